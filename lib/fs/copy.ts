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
    await copyTree(source, destination, await createRoot(destination));
  } else if (info.isSymlink) {
    await copySymlink(source, destination);
  } else if (info.isFile) {
    await copyFile(source, destination);
  } else {
    throw invalidRequest("fs/copy only supports regular files, directories, and symlinks");
  }
  return {};
}

/** Identity of a directory, to recognise the copy's own root if it shows up inside the source. */
interface Inode {
  dev: number;
  ino: number | null;
}

async function createRoot(destination: string): Promise<Inode> {
  await makeDirectory(destination);
  try {
    const { dev, ino } = await Deno.stat(destination);
    return { dev, ino };
  } catch (err) {
    throw ioError(err, { operation: "stat", path: destination });
  }
}

async function makeDirectory(path: string): Promise<void> {
  try {
    await Deno.mkdir(path, { recursive: true });
  } catch (err) {
    throw ioError(err, { operation: "mkdir", path });
  }
}

// `root` is the destination directory: when a swap made it appear inside the source after the
// canonical-path check, it is skipped there, so the copy can never feed itself.
async function copyTree(source: string, destination: string, root: Inode): Promise<void> {
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
    if (info.isDirectory) {
      if (info.dev === root.dev && info.ino === root.ino) continue;
      await makeDirectory(to);
      await copyTree(from, to, root);
    } else if (info.isSymlink) await copySymlink(from, to);
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
 * Where `path` would land once created, as the kernel resolves it: the longest prefix that
 * exists, resolved through symlinks (so `lnk/../copy` with `lnk -> src/deep` is `src/copy`), then
 * the components that do not exist yet (`.`/`..` among those are plain directories once created,
 * so they are applied lexically).
 */
async function resolveThroughExistingAncestors(path: string): Promise<string> {
  const parts = path.split("/").filter((part) => part !== "");
  const missing: string[] = [];
  while (true) {
    const candidate = `/${parts.join("/")}`;
    let real: string | undefined;
    try {
      real = await Deno.realPath(candidate);
    } catch {
      if (parts.length === 0) return candidate;
      missing.unshift(parts.pop()!);
      continue;
    }
    const resolved = real.split("/").filter((part) => part !== "");
    for (const part of missing) {
      if (part === "..") resolved.pop();
      else if (part !== ".") resolved.push(part);
    }
    return `/${resolved.join("/")}`;
  }
}
