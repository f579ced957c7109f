/**
 * Starting a child with ONE exec: glibc's `posix_spawn` through Deno FFI, in a new session
 * (`POSIX_SPAWN_SETSID`, so pid = pgid = sid at once), with file actions that put the given
 * descriptors on 0, 1 and 2, change directory and close everything else, and with the argv[0]
 * and environment given. Plus what replaces `Deno.Command`'s reaping: a `waitpid(pid, WNOHANG)`
 * that only ever names our own children, so Deno's (tokio's) reaping of its own `Deno.Command`
 * children is never disturbed (it waits on its pids only).
 *
 * Linux with glibc >= 2.34 (`addchdir_np`, `addclosefrom_np`); the structure sizes and flag
 * values below are glibc's on x86_64 and aarch64.
 * @module
 */
import { ERRNO } from "../util/os_error.ts";
import { internalError } from "../jsonrpc/errors.ts";

const POSIX_SPAWN_SETSIGDEF = 0x04;
const POSIX_SPAWN_SETSIGMASK = 0x08;
const POSIX_SPAWN_SETSID = 0x80;
/** Larger than glibc's `posix_spawn_file_actions_t` (80) and `posix_spawnattr_t` (336). */
const OPAQUE_BYTES = 512;
const SIGSET_BYTES = 128;
const WNOHANG = 1;

/** `open(2)` flags for {@link StdioAction} (Linux). */
export const O_RDONLY = 0;
/** `open(2)` flags for {@link StdioAction} (Linux). */
export const O_RDWR = 2;

const SYMBOLS = {
  posix_spawn: {
    parameters: ["buffer", "buffer", "buffer", "buffer", "buffer", "buffer"],
    result: "i32",
  },
  posix_spawn_file_actions_init: { parameters: ["buffer"], result: "i32" },
  posix_spawn_file_actions_destroy: { parameters: ["buffer"], result: "i32" },
  posix_spawn_file_actions_adddup2: { parameters: ["buffer", "i32", "i32"], result: "i32" },
  posix_spawn_file_actions_addopen: {
    parameters: ["buffer", "i32", "buffer", "i32", "u32"],
    result: "i32",
  },
  posix_spawn_file_actions_addchdir_np: { parameters: ["buffer", "buffer"], result: "i32" },
  posix_spawn_file_actions_addclosefrom_np: { parameters: ["buffer", "i32"], result: "i32" },
  posix_spawnattr_init: { parameters: ["buffer"], result: "i32" },
  posix_spawnattr_destroy: { parameters: ["buffer"], result: "i32" },
  posix_spawnattr_setflags: { parameters: ["buffer", "i16"], result: "i32" },
  posix_spawnattr_setsigmask: { parameters: ["buffer", "buffer"], result: "i32" },
  posix_spawnattr_setsigdefault: { parameters: ["buffer", "buffer"], result: "i32" },
  sigemptyset: { parameters: ["buffer"], result: "i32" },
  sigfillset: { parameters: ["buffer"], result: "i32" },
  pipe2: { parameters: ["buffer", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  fcntl: { parameters: ["i32", "i32", "i32"], result: "i32" },
  waitpid: { parameters: ["i32", "buffer", "i32"], result: "i32" },
  access: { parameters: ["buffer", "i32"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
} as const;

type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];
let libc: Libc | undefined;

function lib(): Libc {
  if (libc === undefined) {
    if (Deno.build.os !== "linux") throw new Error(`posix_spawn via FFI is Linux only`);
    libc = Deno.dlopen("libc.so.6", SYMBOLS).symbols;
  }
  return libc;
}

/** Whether this platform starts children through {@link spawnChild} (Linux with glibc). */
export function directSpawnAvailable(): boolean {
  if (Deno.build.os !== "linux") return false;
  try {
    lib();
    return true;
  } catch {
    return false;
  }
}

const BY_NUMBER = new Map(Object.entries(ERRNO).map(([name, e]) => [e.errno, name]));

/** A failed libc call, with the errno name (`ENOENT`) as `code`, like a Deno error. */
export class SpawnError extends Error {
  /** The errno name, e.g. `EMFILE`, or `E<number>` for one outside our table. */
  readonly code: string;
  constructor(what: string, errno: number) {
    const code = BY_NUMBER.get(errno) ?? `E${errno}`;
    super(`${what}: ${code}`);
    this.name = "SpawnError";
    this.code = code;
  }
}

function errno(): number {
  const where = lib().__errno_location();
  return where === null ? 0 : new Deno.UnsafePointerView(where).getInt32();
}

const encoder = new TextEncoder();

/** `text` as a C string; a NUL inside it would silently cut it short, so it is refused. */
function cString(text: string): Uint8Array<ArrayBuffer> {
  if (text.includes("\0")) throw internalError("nul byte found in provided data");
  return encoder.encode(text + "\0") as Uint8Array<ArrayBuffer>;
}

/**
 * A NULL-terminated `char *[]` over one buffer holding every string. Returns the pointer array
 * and the string buffer: both must stay referenced until the call that uses them returns.
 */
function cStringArray(items: string[]): [BigUint64Array<ArrayBuffer>, Uint8Array<ArrayBuffer>] {
  // Room for the longest UTF-8 encoding (3 bytes per UTF-16 unit) and each NUL: one buffer,
  // encoded in place, instead of a buffer per string copied together.
  let room = 1;
  for (const item of items) {
    if (item.includes("\0")) throw internalError("nul byte found in provided data");
    room += item.length * 3 + 1;
  }
  const strings = new Uint8Array(room);
  const pointers = new BigUint64Array(items.length + 1);
  const base = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(strings)));
  let at = 0;
  for (let i = 0; i < items.length; i++) {
    pointers[i] = base + BigInt(at);
    at += encoder.encodeInto(items[i], strings.subarray(at)).written + 1;
  }
  return [pointers, strings];
}

/** What a child's descriptor 0, 1 or 2 becomes: one of ours, or a freshly opened path. */
export type StdioAction = { fd: number } | { path: string; flags: number };

/** What {@link spawnChild} starts. */
export interface ChildSpec {
  /** Absolute path of the program (no PATH search happens here). */
  path: string;
  /** The child's argv, argv[0] included. */
  argv: string[];
  /** The complete environment. */
  env: Record<string, string>;
  /** Working directory of the child. */
  cwd: string;
  /** Descriptors 0, 1, 2, in order. */
  stdio: [StdioAction, StdioAction, StdioAction];
}

/**
 * Starts a child in a new session with an empty signal mask and default signal dispositions;
 * every descriptor above 2 is closed in the child. Returns its pid; throws a
 * {@link SpawnError} with the errno of whatever failed (directory change, exec, ...).
 *
 * @example
 * ```ts
 * const pid = spawnChild({
 *   path: "/bin/true", argv: ["true"], env: {}, cwd: "/",
 *   stdio: [{ path: "/dev/null", flags: O_RDONLY }, { path: "/dev/null", flags: O_RDWR },
 *     { path: "/dev/null", flags: O_RDWR }],
 * });
 * ```
 */
export function spawnChild(spec: ChildSpec): number {
  const c = lib();
  const actions = new Uint8Array(OPAQUE_BYTES);
  const attr = new Uint8Array(OPAQUE_BYTES);
  const sigset = new Uint8Array(SIGSET_BYTES);
  // Strings the file actions point to must outlive posix_spawn (glibc copies them, but cheap).
  const keep: Uint8Array[] = [];
  check(c.posix_spawn_file_actions_init(actions), "posix_spawn_file_actions_init");
  try {
    check(c.posix_spawnattr_init(attr), "posix_spawnattr_init");
    try {
      spec.stdio.forEach((action, target) => {
        if ("fd" in action) {
          check(c.posix_spawn_file_actions_adddup2(actions, action.fd, target), "adddup2");
        } else {
          const path = cString(action.path);
          keep.push(path);
          check(
            c.posix_spawn_file_actions_addopen(actions, target, path, action.flags, 0),
            "addopen",
          );
        }
      });
      const cwd = cString(spec.cwd);
      keep.push(cwd);
      check(c.posix_spawn_file_actions_addchdir_np(actions, cwd), "addchdir_np");
      check(c.posix_spawn_file_actions_addclosefrom_np(actions, 3), "addclosefrom_np");
      // Deno ignores SIGPIPE (as every Rust program does) and an ignored signal survives exec:
      // reset every disposition, and start with nothing blocked.
      c.sigfillset(sigset);
      check(c.posix_spawnattr_setsigdefault(attr, sigset), "setsigdefault");
      c.sigemptyset(sigset);
      check(c.posix_spawnattr_setsigmask(attr, sigset), "setsigmask");
      check(
        c.posix_spawnattr_setflags(
          attr,
          POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK,
        ),
        "setflags",
      );
      const [argv, argvStrings] = cStringArray(spec.argv);
      const [envp, envStrings] = cStringArray(
        Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
      );
      const pid = new Int32Array(1);
      const path = cString(spec.path);
      const rc = c.posix_spawn(
        new Uint8Array(pid.buffer),
        path,
        actions,
        attr,
        new Uint8Array(argv.buffer),
        new Uint8Array(envp.buffer),
      );
      keep.push(argvStrings, envStrings, path);
      if (rc !== 0) throw new SpawnError("posix_spawn", rc);
      return pid[0];
    } finally {
      c.posix_spawnattr_destroy(attr);
    }
  } finally {
    c.posix_spawn_file_actions_destroy(actions);
    keep.length = 0;
  }
}

function check(rc: number, what: string): void {
  // posix_spawn* return the error number itself.
  if (rc !== 0) throw new SpawnError(what, rc);
}

/**
 * A close-on-exec, blocking pipe, `[readEnd, writeEnd]` (make our end nonblocking with
 * {@link setNonblocking}: the flag belongs to the open file, which the child's end shares with
 * nobody, but a dup2'ed end would carry it into the child). Throws a {@link SpawnError}
 * (e.g. `EMFILE`).
 *
 * @example
 * ```ts
 * const [read, write] = makePipe();
 * ```
 */
export function makePipe(): [number, number] {
  const fds = new Int32Array(2);
  // O_CLOEXEC: the child gets its end through dup2 only; no other child inherits either end.
  if (lib().pipe2(new Uint8Array(fds.buffer), 0o2000000) !== 0) {
    throw new SpawnError("pipe2", errno());
  }
  return [fds[0], fds[1]];
}

/**
 * Sets O_NONBLOCK on one of our descriptors.
 *
 * @example
 * ```ts
 * const [read] = makePipe();
 * setNonblocking(read);
 * ```
 */
export function setNonblocking(fd: number): void {
  const c = lib();
  const flags = c.fcntl(fd, 3, /* F_GETFL */ 0);
  if (flags < 0 || c.fcntl(fd, 4, /* F_SETFL */ flags | 0o4000 /* O_NONBLOCK */) < 0) {
    throw new SpawnError("fcntl", errno());
  }
}

/**
 * Closes a descriptor, ignoring errors (ours, closed once).
 *
 * @example
 * ```ts
 * const [read, write] = makePipe();
 * closeDescriptor(read);
 * closeDescriptor(write);
 * ```
 */
export function closeDescriptor(fd: number): void {
  if (fd >= 0) lib().close(fd);
}

const ENOENT = 2;
const ENOTDIR = 20;

/**
 * False when `path` names nothing (`access(path, F_OK)` fails with ENOENT or ENOTDIR); any other
 * answer is true, and the caller's stat decides. Unlike `Deno.statSync`, a miss throws nothing.
 *
 * @example
 * ```ts
 * pathMayExist("/usr/bin/env"); // true
 * pathMayExist("/no/such/file"); // false
 * ```
 */
export function pathMayExist(path: string): boolean {
  const c = lib();
  if (c.access(encoder.encode(path + "\0") as Uint8Array<ArrayBuffer>, 0) === 0) return true;
  const e = errno();
  return e !== ENOENT && e !== ENOTDIR;
}

/**
 * Reaps child `pid` if it has exited: its exit code (the status, or 128+N for a death by signal
 * N, as Deno reports it), or null while it runs.
 *
 * @example
 * ```ts
 * declare const pid: number;
 * const code = reapIfExited(pid); // null: still running
 * ```
 */
export function reapIfExited(pid: number): number | null {
  const status = new Int32Array(1);
  const rc = lib().waitpid(pid, new Uint8Array(status.buffer), WNOHANG);
  if (rc === 0) return null;
  // -1 (ECHILD) cannot happen for a child only we wait for; report it as a failure to run.
  if (rc < 0) return -1;
  const s = status[0];
  const signal = s & 0x7f;
  return signal === 0 ? (s >> 8) & 0xff : 128 + signal;
}
