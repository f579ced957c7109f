/**
 * The `environmentConfig/read` JSON-RPC method (family `environment config`).
 * @module
 */
import { z } from "zod";
import { defineMethod, type MethodTable } from "../server/method.ts";
import { pathFromUri } from "../fs/path_uri.ts";
import { invalidParams } from "../jsonrpc/errors.ts";
import { readEnvironmentConfig } from "./environment_config.ts";

/**
 * `environmentConfig/read` params; `cwd` must be a `file:` URI (it selects nothing yet: upstream
 * returns no project layers either).
 *
 * @example
 * ```ts
 * environmentConfigReadParams.parse({ cwd: "file:///w", configPaths: [["mcp_servers"]], requirementsPaths: [] });
 * ```
 */
export const environmentConfigReadParams = z.object({
  cwd: z.string(),
  configPaths: z.array(z.array(z.string())),
  requirementsPaths: z.array(z.array(z.string())),
});

/**
 * Methods by wire name.
 *
 * @example
 * ```ts
 * const methods: MethodTable = { ...configMethods };
 * ```
 */
export const configMethods: MethodTable = {
  "environmentConfig/read": defineMethod({
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
