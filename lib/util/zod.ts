/**
 * `import { z } from "zod"` resolves here (deno.json maps `zod` to this file): the same `z`
 * namespace, holding only the parts of zod this project uses. zod's own `z` namespace holds
 * every locale and the JSON-schema tools, and a namespace used as a value keeps all of it in the
 * bundle and evaluates it at start-up (454 KiB minified, ~370 KiB of it never used); named imports
 * let the bundler drop them. A zod function missing here is a type error: add it to
 * `_zod_api.ts`.
 *
 * @example
 * ```ts
 * import { z } from "zod";
 * const params = z.object({ path: z.string() });
 * params.parse({ path: "/tmp" });
 * ```
 * @module
 */
export * as z from "./_zod_api.ts";
