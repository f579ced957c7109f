/**
 * `followSymlinks: false` support: refuse paths whose directories pass through a symlink.
 * @module
 */
import { invalidRequest, RpcError } from "../jsonrpc/errors.ts";
import { ioError, osError } from "./io_error.ts";

/**
 * Text upstream answers when the final component of a no-follow path is a symlink.
 *
 * @example
 * ```ts
 * if (err.message.startsWith(PATH_CONTAINS_SYMLINK)) retryWithFollow();
 * ```
 */
export const PATH_CONTAINS_SYMLINK = "path contains a symbolic link";

/**
 * Throws when a directory component of `path` (not the final one) is a symlink. Like upstream,
 * which opens each directory with `O_NOFOLLOW | O_DIRECTORY`, that is `Not a directory`.
 * Components that do not exist are left for the operation itself to report.
 *
 * @example
 * ```ts
 * await rejectSymlinkAncestors("/tmp/link/file"); // throws when /tmp/link is a symlink
 * ```
 */
export async function rejectSymlinkAncestors(path: string): Promise<void> {
  const parts = path.split("/").filter((part) => part !== "");
  let current = "";
  for (const part of parts.slice(0, -1)) {
    current += `/${part}`;
    let info: Deno.FileInfo;
    try {
      info = await Deno.lstat(current);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return;
      throw ioError(err, { operation: "lstat", path: current });
    }
    if (info.isSymlink) {
      const { code, message } = osError("ENOTDIR");
      throw new RpcError(
        code,
        `${message}: '${current}' is a symbolic link and followSymlinks is false`,
      );
    }
  }
}

/**
 * Throws -32600 `path contains a symbolic link` when `path` itself is a symlink.
 *
 * @example
 * ```ts
 * await rejectFinalSymlink("/tmp/link"); // throws when /tmp/link is a symlink
 * ```
 */
export async function rejectFinalSymlink(path: string): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(path);
  } catch {
    return;
  }
  if (info.isSymlink) throw invalidRequest(`${PATH_CONTAINS_SYMLINK}: '${path}'`);
}
