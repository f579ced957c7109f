/**
 * `fs/getMetadata` and `fs/canonicalize`.
 * @module
 */
import type { FileMetadata } from "../protocol/fs.ts";
import { ioError } from "./io_error.ts";
import { uriFromPath } from "../protocol/file_uri.ts";
import type { FollowOptions } from "./read_write.ts";
import { PATH_CONTAINS_SYMLINK } from "./_symlinks.ts";
import { heldIoError, holdParentNoFollow } from "./_held_directory.ts";
import { invalidRequest } from "../jsonrpc/errors.ts";

/** The `fs/getMetadata` result. */
/**
 * Metadata of `path`: type, size and times follow symlinks (stat), `isSymlink` comes from lstat.
 * A dangling symlink is NotFound. Times are milliseconds since the epoch, 0 when unavailable.
 *
 * @example
 * ```ts
 * const { isFile, size } = await getMetadata("/tmp/note.txt");
 * ```
 */
export async function getMetadata(
  path: string,
  options: FollowOptions = {},
): Promise<FileMetadata> {
  let link: Deno.FileInfo;
  let target: Deno.FileInfo;
  if (options.followSymlinks === false) {
    using entry = holdParentNoFollow(path);
    try {
      link = target = await Deno.lstat(entry.path);
    } catch (err) {
      throw heldIoError(err, { operation: "stat", path });
    }
    if (link.isSymlink) throw invalidRequest(`${PATH_CONTAINS_SYMLINK}: '${path}'`);
  } else {
    try {
      link = await Deno.lstat(path);
      target = link.isSymlink ? await Deno.stat(path) : link;
    } catch (err) {
      throw ioError(err, { operation: "stat", path });
    }
  }
  return {
    isDirectory: target.isDirectory,
    isFile: target.isFile,
    isSymlink: link.isSymlink,
    size: target.size,
    createdAtMs: target.birthtime?.getTime() ?? 0,
    modifiedAtMs: target.mtime?.getTime() ?? 0,
  };
}

/**
 * The real path of `path` (symlinks and `..` resolved) as a `file:` URI.
 *
 * @example
 * ```ts
 * const { path } = await canonicalize("/tmp/alias/file"); // "file:///private/tmp/file"
 * ```
 */
export async function canonicalize(path: string): Promise<{ path: string }> {
  try {
    return { path: uriFromPath(await Deno.realPath(path)) };
  } catch (err) {
    throw ioError(err, { operation: "realpath", path });
  }
}
