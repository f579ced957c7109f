/**
 * The capability discovery JSON-RPC methods (family `capability discovery`).
 * @module
 */
import { defineMethod } from "../method/mod.ts";
import { invalidParams } from "../jsonrpc/errors.ts";
import { codexHomeDir } from "../util/codex_home.ts";
import { discoverRootsParams, discoverV2Params } from "../protocol/discovery.ts";
import { pathFromUri } from "../protocol/file_uri.ts";
import { discoverRoot, discoverV2 } from "./discover.ts";

function requireUri(value: string): string {
  // Ours accepts plain absolute paths too; a relative one gets upstream's URL-parser text.
  if (!/^[A-Za-z][A-Za-z0-9+.-]*:/.test(value) && !value.startsWith("/")) {
    throw invalidParams("invalid URI: relative URL without a base");
  }
  return pathFromUri(value);
}

/**
 * The discovery handlers by name; `lib/server/routes.ts` gives them their wire names.
 *
 * @example
 * ```ts
 * const spec = discoveryHandlers.discoverV2;
 * ```
 */
export const discoveryHandlers = {
  discoverV2: defineMethod({
    family: "capability discovery",
    params: discoverV2Params,
    handle(params) {
      requireUri(params.cwd);
      return discoverV2(codexHomeDir());
    },
  }),
  discoverRoots: defineMethod({
    family: "capability discovery",
    params: discoverRootsParams,
    async handle(params) {
      const paths = params.roots.map((root) => requireUri(root.path));
      const roots = [];
      for (const [i, root] of params.roots.entries()) {
        roots.push(await discoverRoot(root.id, paths[i]));
      }
      return { roots };
    },
  }),
};
