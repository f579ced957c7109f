/**
 * The optional `sandbox` member of every filesystem request (spec §3.3). We do not sandbox, so a
 * request whose permissions restrict the filesystem is refused rather than silently run with
 * full access.
 * @module
 */
import type { z } from "zod";
import { invalidRequest } from "../jsonrpc/errors.ts";
import type { permissionProfile, SandboxContext } from "../protocol/sandbox.ts";

/**
 * The error text upstream uses when it has no sandbox helper configured.
 *
 * @example
 * ```ts
 * if (err.message === SANDBOX_UNAVAILABLE) console.log("retry without a sandbox");
 * ```
 */
export const SANDBOX_UNAVAILABLE =
  "sandboxed filesystem operations require configured runtime paths";

/**
 * Throws -32600 when `sandbox` asks for a restricted filesystem: anything managed with a
 * `restricted` filesystem that does not grant write access to the whole disk.
 *
 * @example
 * ```ts
 * rejectRestrictedSandbox(params.sandbox); // no-op for null, `disabled`, `external`
 * ```
 */
export function rejectRestrictedSandbox(sandbox: SandboxContext): void {
  if (sandbox && isRestricted(sandbox.permissions)) throw invalidRequest(SANDBOX_UNAVAILABLE);
}

function isRestricted(permissions: z.output<typeof permissionProfile>): boolean {
  if (permissions.type !== "managed") return false;
  const fileSystem = permissions.file_system;
  if (fileSystem.type === "unrestricted") return false;
  // A restricted policy that still grants write on the filesystem root is full-disk write,
  // which upstream runs directly too.
  const entries = Array.isArray(fileSystem.entries) ? fileSystem.entries : [];
  return !entries.some((entry) => isRootWrite(entry));
}

function isRootWrite(entry: unknown): boolean {
  if (typeof entry !== "object" || entry === null) return false;
  const { path, access } = entry as { path?: unknown; access?: unknown };
  if (access !== "write" || typeof path !== "object" || path === null) return false;
  const { type, value } = path as { type?: unknown; value?: unknown };
  if (type === "special") {
    return typeof value === "object" && value !== null &&
      (value as { kind?: unknown }).kind === "root";
  }
  return type === "path" && (value === "/" || value === "file:///");
}
