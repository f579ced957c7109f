/**
 * The `environmentConfig/read` JSON-RPC method (family `environment config`).
 * @module
 */
import { defineMethod } from "../method/mod.ts";
import { environmentConfigReadParams } from "../protocol/config.ts";
import { pathFromUri } from "../protocol/file_uri.ts";
import { invalidParams } from "../jsonrpc/errors.ts";
import { readEnvironmentConfig } from "./environment_config.ts";

/**
 * The config handlers by name; `lib/server/routes.ts` gives them their wire names.
 *
 * @example
 * ```ts
 * const spec = configHandlers.read;
 * ```
 */
export const configHandlers = {
  read: defineMethod({
    family: "environment config",
    params: environmentConfigReadParams,
    handle(params) {
      // Ours accepts plain absolute paths too; a relative one gets upstream's URL-parser text.
      if (!/^[A-Za-z][A-Za-z0-9+.-]*:/.test(params.cwd) && !params.cwd.startsWith("/")) {
        throw invalidParams("invalid URI: relative URL without a base");
      }
      pathFromUri(params.cwd);
      return readEnvironmentConfig(params);
    },
  }),
};
