/**
 * Methods whose module is evaluated on the first call instead of at start-up. A server that is
 * never asked for capability discovery, HTTP or files then never builds their zod schemas, the
 * YAML parser or the HTTP client, which is start-up time and resident memory (see the README's
 * start-up analysis). The family and lane are declared up front because the connection reads
 * them before a handler runs (handshake errors, the concurrent lanes); loading checks that they
 * match the module's own.
 * @module
 */
import { z } from "zod";
import type { Lane, MethodFamily, MethodSpec } from "../method/mod.ts";
import { parseParams } from "../method/params_error.ts";

/** What a lazy method must declare before its module loads. */
export interface LazyMethodShape {
  family: MethodFamily;
  lane?: Lane;
}

/** Until the module loads, params pass through and the real schema checks them after. */
const UNCHECKED = z.unknown();

/**
 * A table of methods loaded by `load` on the first call of any of them. Each returned spec turns
 * into the loaded one (its schema and handler) once the module is in, so later calls cost nothing
 * extra; a call made while loading validates against the real schema, with the connection's error.
 *
 * @example
 * ```ts
 * const http = lazyMethods(
 *   { request: { family: "http" } },
 *   () => import("../http/methods.ts").then((m) => m.httpHandlers),
 * );
 * ```
 */
export function lazyMethods<K extends string>(
  shapes: Record<K, LazyMethodShape>,
  load: () => Promise<Record<K, MethodSpec>>,
): Record<K, MethodSpec> {
  let loading: Promise<Record<K, MethodSpec>> | undefined;
  const specs = {} as Record<K, MethodSpec>;
  const loadOnce = () => {
    loading ??= load().then((real) => {
      for (const name of Object.keys(shapes) as K[]) {
        const shape = shapes[name];
        const loaded = real[name];
        if (
          loaded?.family !== shape.family ||
          (loaded.lane ?? "ordinary") !== (shape.lane ?? "ordinary")
        ) {
          throw new Error(
            `lazy method ${name}: declared ${shape.family}/${shape.lane} does not match its module`,
          );
        }
        specs[name].params = loaded.params;
        specs[name].handle = loaded.handle;
      }
      return real;
    });
    return loading;
  };
  for (const name of Object.keys(shapes) as K[]) {
    specs[name] = {
      family: shapes[name].family,
      lane: shapes[name].lane,
      params: UNCHECKED,
      handle: async (raw, context) => {
        const real = (await loadOnce())[name];
        return await real.handle(parseParams(real.params, raw), context);
      },
    };
  }
  return specs;
}
