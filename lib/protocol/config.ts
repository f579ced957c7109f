/**
 * `environmentConfig/read` on the wire (capability `environmentConfigRead`).
 * @module
 */
import { z } from "zod";

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
