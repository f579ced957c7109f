/**
 * `fs/walk`: a bounded breadth-first listing (behaviour observed on codex 0.169.0).
 *
 * - The root itself is not listed, only read; a directory below it is read when it is at most
 *   `maxDepth` levels down (so `maxDepth: 0` lists the root's children only).
 * - Each directory's entries are visited sorted by name; every raw entry counts toward
 *   `maxEntries`, including the symlinks and special files that are not reported.
 * - Only directories and regular files are reported. Symlinks to directories are reported (and
 *   descended) only with `followDirectorySymlinks`; a directory reached twice is read once.
 * - `pruneHiddenDirectories` reports dot-directories without descending into them.
 * - `truncated` when `maxEntries` or `maxDirectories` stopped the walk (not `maxDepth`).
 * - A root that is not a directory (or a symlink while not following) yields nothing.
 * @module
 */
import { invalidRequest } from "../jsonrpc/errors.ts";
import { ioError } from "./io_error.ts";
import { uriFromPath } from "../protocol/file_uri.ts";

/** `WalkOptions` from the wire. */
export interface WalkOptions {
  maxDepth: number;
  maxDirectories: number;
  maxEntries: number;
  followDirectorySymlinks: boolean;
  pruneHiddenDirectories?: boolean | null;
}

/** One reported entry. */
export interface WalkEntry {
  path: string;
  kind: "directory" | "file";
}

/** A descendant that could not be read. */
export interface WalkError {
  path: string;
  message: string;
}

/** `WalkOutcome` on the wire. */
export interface WalkOutcome {
  entries: WalkEntry[];
  errors: WalkError[];
  truncated: boolean;
}

interface Pending {
  path: string;
  depth: number;
}

/**
 * Walks the tree under `root` within the limits of `options`.
 *
 * @example
 * ```ts
 * const outcome = await walk("/repo", {
 *   maxDepth: 4,
 *   maxDirectories: 1000,
 *   maxEntries: 10000,
 *   followDirectorySymlinks: false,
 * });
 * ```
 */
export async function walk(root: string, options: WalkOptions): Promise<WalkOutcome> {
  if (options.maxDirectories <= 0 || options.maxEntries <= 0) {
    throw invalidRequest("filesystem walk limits must be greater than zero");
  }
  const outcome: WalkOutcome = { entries: [], errors: [], truncated: false };
  let rootInfo: Deno.FileInfo;
  try {
    rootInfo = await Deno.lstat(root);
    if (rootInfo.isSymlink && options.followDirectorySymlinks) rootInfo = await Deno.stat(root);
  } catch (err) {
    throw ioError(err, { operation: "stat", path: root });
  }
  if (!rootInfo.isDirectory) return outcome;

  const visited = new Set<string>();
  const follow = options.followDirectorySymlinks;
  if (follow) visited.add(await realPathOr(root));
  const queue: Pending[] = [{ path: root.replace(/(.)\/+$/, "$1"), depth: 0 }];
  let directoriesRead = 0;
  let entriesSeen = 0;

  for (let next = 0; next < queue.length; next++) {
    if (directoriesRead >= options.maxDirectories) {
      outcome.truncated = true;
      break;
    }
    directoriesRead++;
    const dir = queue[next];
    let names: string[];
    try {
      names = [];
      for await (const entry of Deno.readDir(dir.path)) names.push(entry.name);
    } catch (err) {
      const error = ioError(err, { operation: "readdir", path: dir.path });
      if (next === 0) throw error;
      outcome.errors.push({ path: uriFromPath(dir.path), message: error.message });
      continue;
    }
    names.sort(compareBytes);
    for (const name of names) {
      if (++entriesSeen > options.maxEntries) {
        outcome.truncated = true;
        return outcome;
      }
      const path = dir.path === "/" ? `/${name}` : `${dir.path}/${name}`;
      const kind = await kindOf(path, follow);
      if (kind === undefined) continue;
      outcome.entries.push({ path: uriFromPath(path), kind });
      if (kind !== "directory" || dir.depth >= options.maxDepth) continue;
      if (options.pruneHiddenDirectories && name.startsWith(".")) continue;
      if (follow) {
        const real = await realPathOr(path);
        if (visited.has(real)) continue;
        visited.add(real);
      }
      queue.push({ path, depth: dir.depth + 1 });
    }
  }
  return outcome;
}

async function kindOf(path: string, follow: boolean): Promise<WalkEntry["kind"] | undefined> {
  try {
    const info = await Deno.lstat(path);
    if (info.isDirectory) return "directory";
    if (info.isFile) return "file";
    // Upstream reports a symlink only when it leads to a directory that it may follow.
    if (info.isSymlink && follow && (await Deno.stat(path)).isDirectory) return "directory";
  } catch {
    // Vanished or dangling entries are skipped like other unreportable ones.
  }
  return undefined;
}

async function realPathOr(path: string): Promise<string> {
  try {
    return await Deno.realPath(path);
  } catch {
    return path;
  }
}

// Rust sorts file names byte-wise; UTF-16 order differs only beyond the BMP, so compare bytes.
const encoder = new TextEncoder();
function compareBytes(a: string, b: string): number {
  const x = encoder.encode(a);
  const y = encoder.encode(b);
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}
