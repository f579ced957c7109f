/**
 * `followSymlinks: false` without a check-then-use race: the parent directory of a path is
 * reached with `openat(…, O_NOFOLLOW | O_DIRECTORY)` one component at a time from `/`, and the
 * operation then names its final component through `/proc/self/fd/<fd>/<name>`. The kernel
 * resolves that magic link to the directory the descriptor holds, not by path, so swapping a
 * parent for a symlink after the walk changes nothing; the final component is opened with
 * `O_NOFOLLOW` (or handled by calls that never follow it: lstat, mkdir, unlink).
 *
 * Deno has no `openat` and cannot wrap a raw descriptor in a file object, hence FFI for the
 * directory walk and `/proc` for the rest. Linux only (the `O_PATH` value is Linux's).
 * @module
 */
import { constants } from "node:fs";
import { RpcError } from "../jsonrpc/errors.ts";
import { ERRNO } from "../util/os_error.ts";
import { ioError, type IoErrorContext, osError } from "./io_error.ts";

const O_PATH = 0o10000000;
const O_CLOEXEC = 0o2000000;
const AT_FDCWD = -100;
const WALK_FLAGS = O_PATH | O_CLOEXEC | constants.O_DIRECTORY | constants.O_NOFOLLOW;

const SYMBOLS = {
  openat: { parameters: ["i32", "buffer", "i32", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
} as const;

let libc: Deno.DynamicLibrary<typeof SYMBOLS>["symbols"] | undefined;

function lib() {
  if (libc === undefined) {
    if (Deno.build.os !== "linux") {
      throw new Error(`followSymlinks: false is supported on Linux only, not ${Deno.build.os}`);
    }
    libc = Deno.dlopen("libc.so.6", SYMBOLS).symbols;
  }
  return libc;
}

const ERRNO_NAME = new Map(Object.entries(ERRNO).map(([name, { errno }]) => [errno, name]));

// Read right after the failing call, on the same thread (synchronous FFI), so it is ours.
function lastErrno(): number {
  const pointer = lib().__errno_location();
  return pointer === null ? 0 : new Deno.UnsafePointerView(pointer).getInt32();
}

/**
 * The final component of a path, inside its parent directory held open by descriptor. `path`
 * names it through `/proc/self/fd`, so no later swap of a parent can redirect it.
 */
export class HeldEntry implements Disposable {
  #fd: number;
  /** `/proc/self/fd/<fd>/<name>`: use it instead of the original path. */
  readonly path: string;
  /** The final component (`.` for `/` itself). */
  readonly name: string;

  constructor(fd: number, name: string, path = `/proc/self/fd/${fd}/${name}`) {
    this.#fd = fd;
    this.name = name;
    this.path = path;
  }

  /** Closes the parent's descriptor (idempotent); `path` is meaningless afterwards. */
  [Symbol.dispose](): void {
    if (this.#fd >= 0) lib().close(this.#fd);
    this.#fd = -1;
  }
}

/** Options of {@linkcode holdParentNoFollow}. */
export interface HoldOptions {
  /** Create missing directories on the way (`mkdir -p`), each inside the held one. */
  create?: boolean;
}

/**
 * Walks to the parent directory of `path` refusing symlinks at every step, and holds it.
 * A symlinked directory component is `Not a directory` (like upstream, which opens each with
 * `O_NOFOLLOW | O_DIRECTORY`); a missing one is `No such file or directory`, unless `create`.
 *
 * @example
 * ```ts
 * using entry = holdParentNoFollow("/tmp/dir/file.txt");
 * const info = await Deno.lstat(entry.path); // never through a symlinked /tmp/dir
 * ```
 */
export function holdParentNoFollow(path: string, options: HoldOptions = {}): HeldEntry {
  if (!raceFree()) return checkedEntry(path);
  const parts = path.split("/").filter((part) => part !== "" && part !== ".");
  const name = parts.pop() ?? ".";
  const c = lib();
  let fd = c.openat(AT_FDCWD, cString("/"), WALK_FLAGS, 0);
  if (fd < 0) throw failure(lastErrno(), "/");
  let walked = "";
  try {
    for (const part of parts) {
      walked += `/${part}`;
      let next = c.openat(fd, cString(part), WALK_FLAGS, 0);
      let errno = next < 0 ? lastErrno() : 0;
      if (next < 0 && errno === ERRNO.ENOENT.errno && options.create) {
        try {
          Deno.mkdirSync(`/proc/self/fd/${fd}/${part}`);
        } catch (err) {
          if (!(err instanceof Deno.errors.AlreadyExists)) {
            throw heldIoError(err, { operation: "mkdir", path: walked });
          }
        }
        next = c.openat(fd, cString(part), WALK_FLAGS, 0);
        errno = next < 0 ? lastErrno() : 0;
      }
      if (next < 0) throw failure(errno, walked, `/proc/self/fd/${fd}/${part}`);
      c.close(fd);
      fd = next;
    }
  } catch (err) {
    c.close(fd);
    throw err;
  }
  return new HeldEntry(fd, name);
}

/**
 * {@linkcode ioError} for a failure on a {@linkcode HeldEntry} path: the message names the
 * path the client sent, not the `/proc/self/fd` one.
 *
 * @example
 * ```ts
 * declare const path: string;
 * try {
 *   await Deno.lstat(path);
 * } catch (err) {
 *   throw heldIoError(err, { operation: "lstat", path });
 * }
 * ```
 */
export function heldIoError(err: unknown, context: IoErrorContext): RpcError {
  if (err instanceof RpcError || !(err instanceof Error)) return ioError(err, context);
  const code = (err as { code?: unknown }).code;
  if (typeof code === "string" && code in ERRNO) return osError(code, context);
  const errno = /\(os error (\d+)\)/.exec(err.message);
  const name = errno ? ERRNO_NAME.get(Number(errno[1])) : undefined;
  if (name !== undefined) return osError(name, context);
  return ioError(err, context);
}

let available: boolean | undefined;

// Deno needs --allow-ffi for openat and --allow-all for any /proc/self/fd path. The sandboxed
// fs helper has neither (only read/write): there the walk falls back to checking each parent
// with lstat before the operation, which a concurrent swap can race; the helper's bwrap view
// still bounds what it can reach.
function raceFree(): boolean {
  if (available === undefined) {
    try {
      const c = lib();
      const fd = c.openat(AT_FDCWD, cString("/"), WALK_FLAGS, 0);
      try {
        Deno.lstatSync(`/proc/self/fd/${fd}/.`);
        available = fd >= 0;
      } finally {
        if (fd >= 0) c.close(fd);
      }
    } catch {
      available = false;
    }
  }
  return available;
}

// The two-step fallback: refuse a symlinked parent seen now; the final component is still
// opened with O_NOFOLLOW by the caller.
function checkedEntry(path: string): HeldEntry {
  const parts = path.split("/").filter((part) => part !== "" && part !== ".");
  const name = parts.pop() ?? ".";
  let current = "";
  for (const part of parts) {
    current += `/${part}`;
    let info: Deno.FileInfo;
    try {
      info = Deno.lstatSync(current);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) break;
      throw heldIoError(err, { operation: "lstat", path: current });
    }
    if (info.isSymlink) throw failure(ERRNO.ENOTDIR.errno, current, current);
  }
  return new HeldEntry(-1, name, path);
}

function failure(errno: number, path: string, heldPath?: string): RpcError {
  const code = ERRNO_NAME.get(errno) ?? `errno ${errno}`;
  if (code === "ENOTDIR" && heldPath !== undefined && isSymlink(heldPath)) {
    const { code: rpcCode, message } = osError("ENOTDIR");
    return new RpcError(
      rpcCode,
      `${message}: '${path}' is a symbolic link and followSymlinks is false`,
    );
  }
  return osError(code, { operation: "open", path });
}

function isSymlink(path: string): boolean {
  try {
    return Deno.lstatSync(path).isSymlink;
  } catch {
    return false;
  }
}

function cString(text: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(`${text}\0`);
}
