/**
 * `fs/createDirectory`, `fs/readDirectory` and `fs/remove`.
 * @module
 */
import type { DirectoryEntry } from "../protocol/fs.ts";
import { internalError } from "../jsonrpc/errors.ts";
import { ioError, isNotFound } from "./io_error.ts";
import type { FollowOptions } from "./read_write.ts";
import { rejectSymlinkAncestors } from "./_symlinks.ts";

/** Options of {@linkcode createDirectory}. */
export interface CreateDirectoryOptions extends FollowOptions {
  /** `mkdir -p` (default) instead of a single `mkdir`. */
  recursive?: boolean | null;
}

/**
 * `fs/createDirectory`: recursive by default (an existing directory is fine); non-recursive
 * fails when the path exists or its parent is missing.
 *
 * @example
 * ```ts
 * await createDirectory("/tmp/a/b/c");
 * ```
 */
export async function createDirectory(
  path: string,
  options: CreateDirectoryOptions = {},
): Promise<Record<string, never>> {
  if (options.followSymlinks === false) await rejectSymlinkAncestors(path);
  try {
    await Deno.mkdir(path, { recursive: options.recursive ?? true });
  } catch (err) {
    throw ioError(err, { operation: "mkdir", path });
  }
  return {};
}

/** One `fs/readDirectory` entry. */
/**
 * `fs/readDirectory`: entries in OS order without `.`/`..`; types follow symlinks and entries
 * whose stat fails (dangling symlinks, entries removed meanwhile) are skipped.
 *
 * @example
 * ```ts
 * const { entries } = await readDirectory("/tmp");
 * ```
 */
export async function readDirectory(path: string): Promise<{ entries: DirectoryEntry[] }> {
  const entries: DirectoryEntry[] = [];
  try {
    for await (const entry of Deno.readDir(path)) {
      let info: Deno.FileInfo;
      try {
        info = await Deno.stat(`${path.replace(/\/+$/, "")}/${entry.name}`);
      } catch {
        continue;
      }
      entries.push({ fileName: entry.name, isDirectory: info.isDirectory, isFile: info.isFile });
    }
  } catch (err) {
    throw ioError(err, { operation: "readdir", path });
  }
  return { entries };
}

/** Options of {@linkcode removePath}. */
export interface RemoveOptions extends FollowOptions {
  /** Remove directories with their contents (default true). */
  recursive?: boolean | null;
  /** A missing path is success (default true). */
  force?: boolean | null;
}

/**
 * `fs/remove`: inspects the path with lstat, so a symlink is removed itself, never its target.
 *
 * @example
 * ```ts
 * await removePath("/tmp/build", { recursive: true, force: true });
 * ```
 */
export async function removePath(
  path: string,
  options: RemoveOptions = {},
): Promise<Record<string, never>> {
  const recursive = options.recursive ?? true;
  const force = options.force ?? true;
  if (options.followSymlinks === false) {
    // Same answer as upstream: it has no symlink-safe recursive delete.
    if (recursive) throw internalError("recursive no-follow removal is unsupported");
    await rejectSymlinkAncestors(path);
  }
  try {
    const info = await Deno.lstat(path);
    await Deno.remove(path, { recursive: info.isDirectory && recursive });
  } catch (err) {
    if (force && isNotFound(err)) return {};
    throw ioError(err, { operation: "remove", path });
  }
  return {};
}
