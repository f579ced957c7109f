/**
 * `fs/copy`: files, symlinks and directory trees, with upstream's refusal rules.
 * @module
 */
import { invalidRequest } from "../jsonrpc/errors.ts";
import { ioError } from "./io_error.ts";

/** Options of {@linkcode copyPath}. */
export interface CopyOptions {
  /** Required by the wire for every call; must be true when the source is a directory. */
  recursive: boolean;
}

/**
 * Copies `source` to `destination` (source inspected with lstat): a regular file is copied
 * byte for byte with its permission bits, a symlink is recreated with the same target, a
 * directory (only with `recursive`) is merged into the destination, recreating symlinks and
 * skipping other special files.
 *
 * @example
 * ```ts
 * await copyPath("/tmp/src", "/tmp/dst", { recursive: true });
 * ```
 */
export async function copyPath(
  source: string,
  destination: string,
  options: CopyOptions,
): Promise<Record<string, never>> {
  const info = await lstat(source);
  if (info.isDirectory) {
    if (!options.recursive) {
      throw invalidRequest("fs/copy requires recursive: true when sourcePath is a directory");
    }
    const realSource = await realPath(source);
    const realDestination = await resolveThroughExistingAncestors(destination);
    if (realDestination === realSource || realDestination.startsWith(`${realSource}/`)) {
      throw invalidRequest("fs/copy cannot copy a directory to itself or one of its descendants");
    }
    await copyTree(source, destination);
  } else if (info.isSymlink) {
    await copySymlink(source, destination);
  } else if (info.isFile) {
    await copyFile(source, destination);
  } else {
    throw invalidRequest("fs/copy only supports regular files, directories, and symlinks");
  }
  return {};
}

async function copyTree(source: string, destination: string): Promise<void> {
  try {
    await Deno.mkdir(destination, { recursive: true });
  } catch (err) {
    throw ioError(err, { operation: "mkdir", path: destination });
  }
  let names: string[];
  try {
    names = [];
    for await (const entry of Deno.readDir(source)) names.push(entry.name);
  } catch (err) {
    throw ioError(err, { operation: "readdir", path: source });
  }
  for (const name of names) {
    const from = `${source}/${name}`;
    const to = `${destination}/${name}`;
    const info = await lstat(from);
    if (info.isDirectory) await copyTree(from, to);
    else if (info.isSymlink) await copySymlink(from, to);
    else if (info.isFile) await copyFile(from, to);
    // Sockets, FIFOs and devices inside a tree are skipped, as upstream does.
  }
}

async function copyFile(from: string, to: string): Promise<void> {
  try {
    // Deno.copyFile is Rust's std::fs::copy: bytes plus permission bits.
    await Deno.copyFile(from, to);
  } catch (err) {
    throw ioError(err, { operation: "copy", path: from });
  }
}

async function copySymlink(from: string, to: string): Promise<void> {
  try {
    await Deno.symlink(await Deno.readLink(from), to);
  } catch (err) {
    throw ioError(err, { operation: "symlink", path: to });
  }
}

async function lstat(path: string): Promise<Deno.FileInfo> {
  try {
    return await Deno.lstat(path);
  } catch (err) {
    throw ioError(err, { operation: "lstat", path });
  }
}

async function realPath(path: string): Promise<string> {
  try {
    return await Deno.realPath(path);
  } catch (err) {
    throw ioError(err, { operation: "realpath", path });
  }
}

/**
 * Where `path` would land once created: its deepest existing ancestor resolved through symlinks,
 * plus the components that do not exist yet (normalising `.` and `..` lexically).
 */
async function resolveThroughExistingAncestors(path: string): Promise<string> {
  const parts: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") parts.pop();
    else parts.push(part);
  }
  const missing: string[] = [];
  while (true) {
    const candidate = `/${parts.join("/")}`;
    try {
      const real = await Deno.realPath(candidate);
      const rest = missing.reverse().join("/");
      if (rest === "") return real;
      return real === "/" ? `/${rest}` : `${real}/${rest}`;
    } catch {
      if (parts.length === 0) return `/${missing.reverse().join("/")}`;
      missing.push(parts.pop()!);
    }
  }
}
