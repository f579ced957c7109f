/**
 * `fs/createDirectory`, `fs/readDirectory` and `fs/remove`.
 * @module
 */
import type { DirectoryEntry } from "../protocol/fs.ts";
import { internalError, invalidRequest } from "../jsonrpc/errors.ts";
import { ioError, isNotFound } from "./io_error.ts";
import type { FollowOptions } from "./read_write.ts";
import { heldIoError, holdParentNoFollow } from "./_held_directory.ts";

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
  const recursive = options.recursive ?? true;
  if (options.followSymlinks === false) {
    // Each directory on the way is opened (or made) inside the one before, never via a link.
    using entry = holdParentNoFollow(path, { create: recursive });
    try {
      await Deno.mkdir(entry.path, { recursive });
    } catch (err) {
      throw heldIoError(err, { operation: "mkdir", path });
    }
    return {};
  }
  try {
    await Deno.mkdir(path, { recursive });
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
 * Spellings that would make the kernel resolve a final symlink (`link/`, `link/.`, `link//`)
 * are first reduced to `link`, as upstream's path handling does, so they remove the link too;
 * a path ending in `..` is refused, since it names a directory other than the one written.
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
  path = removalTarget(path);
  const recursive = options.recursive ?? true;
  const force = options.force ?? true;
  if (options.followSymlinks === false) {
    // Same answer as upstream: it has no symlink-safe recursive delete.
    if (recursive) throw internalError("recursive no-follow removal is unsupported");
    using entry = holdParentNoFollow(path);
    try {
      const info = await Deno.lstat(entry.path);
      await Deno.remove(entry.path, { recursive: info.isDirectory && recursive });
    } catch (err) {
      if (force && isNotFound(err)) return {};
      throw heldIoError(err, { operation: "remove", path });
    }
    return {};
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

/**
 * The entry `fs/remove` acts on: `path` without empty and `.` components (what Rust's
 * `Path::components` yields), so no trailing `/` or `/.` makes lstat and unlink follow a final
 * symlink into its target directory.
 */
function removalTarget(path: string): string {
  const parts = path.split("/").filter((part) => part !== "" && part !== ".");
  if (parts.at(-1) === "..") {
    throw invalidRequest(
      `fs/remove refuses '${path}': a path ending in '..' names the parent of what it spells; ` +
        "pass that directory's own path",
    );
  }
  return `/${parts.join("/")}`;
}
