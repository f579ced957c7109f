/**
 * The optional `sandbox` member of every filesystem request (spec §3.3): Codex's permission
 * profile, parsed by lib/protocol/sandbox.ts. Sandboxed calls run confined (lib/fs/sandboxed.ts);
 * the one exception is refused here.
 * @module
 */
import { invalidRequest } from "../jsonrpc/errors.ts";
import type { SandboxContext } from "../protocol/sandbox.ts";

/**
 * The error text of a sandboxed `fs/open`: a handle outlives the call, and the confined helper
 * that would hold it does not (capability `sandboxedFileStreaming` is false).
 *
 * @example
 * ```ts
 * declare const err: Error;
 * if (err.message === SANDBOXED_STREAMING_UNSUPPORTED) console.log("use fs/readFile");
 * ```
 */
export const SANDBOXED_STREAMING_UNSUPPORTED =
  "sandboxed fs/open is not supported by this exec-server (sandboxedFileStreaming is false); " +
  "read the file with fs/readFile";

/**
 * Throws -32600 when `sandbox` restricts the filesystem (only `fs/open` calls this).
 *
 * @example
 * ```ts
 * rejectSandboxedStreaming(null); // no-op for null, `disabled`, `external`
 * ```
 */
export function rejectSandboxedStreaming(sandbox: SandboxContext | null | undefined): void {
  const permissions = sandbox?.permissions;
  if (permissions?.type === "managed" && permissions.file_system.type === "restricted") {
    throw invalidRequest(SANDBOXED_STREAMING_UNSUPPORTED);
  }
}
