/**
 * The handful of libc calls the PTY backend needs, through Deno FFI. Linux only: the flag and
 * ioctl numbers below are the Linux (x86_64 and aarch64, asm-generic) values, and the variadic
 * `ioctl`/`fcntl`/`open` are declared with fixed arity, which those ABIs tolerate.
 *
 * Everything here is synchronous and never blocks, except {@link pollWait}, which runs on a
 * worker thread so that waiting for a terminal never stalls the event loop.
 * @module
 */

/** `open(2)` and `fcntl(2)` flags (Linux). */
export const O_RDWR = 0o2;
export const O_NOCTTY = 0o400;
export const O_NONBLOCK = 0o4000;
export const O_CLOEXEC = 0o2000000;
const F_GETFL = 3;
const F_SETFL = 4;

/** `poll(2)` event bits. */
export const POLLIN = 0x1;
export const POLLOUT = 0x4;
export const POLLERR = 0x8;
export const POLLHUP = 0x10;
export const POLLNVAL = 0x20;

const TIOCSWINSZ = 0x5414;
const TIOCGPGRP = 0x540f;
/** Offset of `c_cc` in glibc's `struct termios` (four tcflag_t, then `c_line`). */
const TERMIOS_CC_OFFSET = 17;
const VEOF = 4;
const TERMIOS_SIZE = 60;

const SYMBOLS = {
  posix_openpt: { parameters: ["i32"], result: "i32" },
  grantpt: { parameters: ["i32"], result: "i32" },
  unlockpt: { parameters: ["i32"], result: "i32" },
  ptsname_r: { parameters: ["i32", "buffer", "usize"], result: "i32" },
  open: { parameters: ["buffer", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  ioctl: { parameters: ["i32", "u64", "buffer"], result: "i32" },
  fcntl: { parameters: ["i32", "i32", "i32"], result: "i32" },
  pipe2: { parameters: ["buffer", "i32"], result: "i32" },
  tcgetattr: { parameters: ["i32", "buffer"], result: "i32" },
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32" },
  getpgrp: { parameters: [], result: "i32" },
  kill: { parameters: ["i32", "i32"], result: "i32" },
  poll_wait: {
    name: "poll",
    parameters: ["buffer", "u64", "i32"],
    result: "i32",
    nonblocking: true,
  },
} as const;

type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

let libc: Libc | undefined;

/** Opens libc once, on first use, so that merely importing this module needs no FFI permission. */
function lib(): Libc {
  if (libc === undefined) {
    if (Deno.build.os !== "linux") {
      throw new Error(`the FFI PTY backend supports Linux only, not ${Deno.build.os}`);
    }
    libc = Deno.dlopen("libc.so.6", SYMBOLS).symbols;
  }
  return libc;
}

/** Raised when a libc call fails while setting up a terminal. */
export class LibcError extends Error {
  /** Stable code for the failure family. */
  readonly code = "LIBC";
  constructor(message: string) {
    super(message);
    this.name = "LibcError";
  }
}

function check(result: number, what: string): number {
  if (result < 0) throw new LibcError(`${what} failed`);
  return result;
}

function cString(text: string): Uint8Array {
  return new TextEncoder().encode(text + "\0");
}

/** A freshly allocated pseudo-terminal pair. */
export interface PtyPair {
  /** Master side: nonblocking, close-on-exec. */
  master: number;
  /** Slave side, opened without becoming our controlling terminal, close-on-exec. */
  slave: number;
  /** Path of the slave device, e.g. `/dev/pts/3`. */
  slavePath: string;
}

/**
 * Allocates a PTY pair and sets its window size. The caller keeps `slave` open until the child
 * has exited: while any slave descriptor is open the master never reports hangup, so the child
 * cannot race us into an early EOF before it has opened the device itself.
 *
 * @example
 * ```ts
 * const { master, slave, slavePath } = openPty(24, 80);
 * ```
 */
export function openPty(rows: number, cols: number): PtyPair {
  const c = lib();
  const master = check(c.posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC), "posix_openpt");
  try {
    check(c.grantpt(master), "grantpt");
    check(c.unlockpt(master), "unlockpt");
    const name = new Uint8Array(128);
    if (c.ptsname_r(master, name, BigInt(name.length)) !== 0) {
      throw new LibcError("ptsname_r failed");
    }
    const slavePath = new TextDecoder().decode(name.subarray(0, name.indexOf(0)));
    setNonblocking(master);
    setWindowSize(master, rows, cols);
    const slave = check(
      c.open(cString(slavePath), O_RDWR | O_NOCTTY | O_CLOEXEC),
      `open ${slavePath}`,
    );
    return { master, slave, slavePath };
  } catch (error) {
    c.close(master);
    throw error;
  }
}

function setNonblocking(fd: number): void {
  const c = lib();
  const flags = check(c.fcntl(fd, F_GETFL, 0), "fcntl(F_GETFL)");
  check(c.fcntl(fd, F_SETFL, flags | O_NONBLOCK), "fcntl(F_SETFL)");
}

/**
 * Sets the terminal window size (TIOCSWINSZ); the kernel sends SIGWINCH to the foreground group
 * when the size changes. Returns false when the terminal is gone.
 *
 * @example
 * ```ts
 * declare const master: number;
 * setWindowSize(master, 40, 120);
 * ```
 */
export function setWindowSize(fd: number, rows: number, cols: number): boolean {
  const winsize = new Uint16Array([rows, cols, 0, 0]);
  return lib().ioctl(fd, BigInt(TIOCSWINSZ), new Uint8Array(winsize.buffer)) === 0;
}

/**
 * The terminal's foreground process group (TIOCGPGRP on the master), or -1 when unknown, e.g.
 * after the session leader exited.
 *
 * @example
 * ```ts
 * declare const master: number;
 * const pgrp = foregroundGroup(master);
 * ```
 */
export function foregroundGroup(master: number): number {
  const out = new Int32Array(1);
  if (lib().ioctl(master, BigInt(TIOCGPGRP), new Uint8Array(out.buffer)) !== 0) return -1;
  return out[0] > 0 ? out[0] : -1;
}

/**
 * The terminal's current end-of-file character (`c_cc[VEOF]`), ^D when unset or unknown.
 *
 * @example
 * ```ts
 * declare const master: number;
 * const eof = eofChar(master); // 0x04 unless the child changed it
 * ```
 */
export function eofChar(master: number): number {
  const termios = new Uint8Array(TERMIOS_SIZE);
  if (lib().tcgetattr(master, termios) !== 0) return 0x04;
  return termios[TERMIOS_CC_OFFSET + VEOF] || 0x04;
}

/**
 * Nonblocking read into `buffer`: bytes read, 0 at end of file, or -1 when nothing is available
 * or the read failed (tell the two apart with {@link pollNow}).
 *
 * @example
 * ```ts
 * declare const master: number;
 * declare const scratch: Uint8Array;
 * const n = readNow(master, scratch);
 * ```
 */
export function readNow(fd: number, buffer: Uint8Array): number {
  return Number(lib().read(fd, buffer, BigInt(buffer.length)));
}

/**
 * Nonblocking write: bytes accepted by the kernel (possibly fewer than given), or -1.
 *
 * @example
 * ```ts
 * declare const bytes: Uint8Array;
 * declare const master: number;
 * const n = writeNow(master, bytes);
 * ```
 */
export function writeNow(fd: number, bytes: Uint8Array): number {
  if (bytes.length === 0) return 0;
  return Number(lib().write(fd, bytes, BigInt(bytes.length)));
}

/**
 * Current readiness of one descriptor (`poll` with a zero timeout): the `revents` bits.
 *
 * @example
 * ```ts
 * declare const master: number;
 * if (pollNow(master, POLLIN) & POLLHUP) console.log("no slave left");
 * ```
 */
export function pollNow(fd: number, events: number): number {
  const pfd = pollfds([[fd, events]]);
  if (lib().poll(pfd, 1n, 0) < 0) return 0;
  return new DataView(pfd.buffer).getInt16(6, true);
}

/**
 * Waits, on a worker thread, until any of `fds` is ready for its events (or hung up); returns
 * each descriptor's `revents`. Callers include a wake-up pipe so that a wait can always be ended
 * before its descriptors are closed.
 *
 * @example
 * ```ts
 * declare const master: number;
 * declare const wakeRead: number;
 * const [masterEvents] = await pollWait([[master, POLLIN], [wakeRead, POLLIN]]);
 * ```
 */
export async function pollWait(fds: [fd: number, events: number][]): Promise<number[]> {
  // The buffer must stay referenced until the worker thread is done with it.
  const pfd = pollfds(fds);
  await lib().poll_wait(pfd, BigInt(fds.length), -1);
  const view = new DataView(pfd.buffer);
  return fds.map((_, i) => view.getInt16(8 * i + 6, true));
}

function pollfds(fds: [number, number][]): Uint8Array {
  const pfd = new Uint8Array(8 * fds.length);
  const view = new DataView(pfd.buffer);
  fds.forEach(([fd, events], i) => {
    view.setInt32(8 * i, fd, true);
    view.setInt16(8 * i + 4, events, true);
  });
  return pfd;
}

/** `fcntl(2)` command that sets a pipe's capacity (Linux). */
const F_SETPIPE_SZ = 1031;

/**
 * Sets the capacity of the pipe `fd` belongs to; false when the kernel refuses (not a pipe, over
 * `/proc/sys/fs/pipe-max-size`, or the user's pipe budget is used up).
 *
 * @example
 * ```ts
 * const [readEnd] = openPipe();
 * setPipeSize(readEnd, 1024 * 1024);
 * ```
 */
export function setPipeSize(fd: number, bytes: number): boolean {
  return lib().fcntl(fd, F_SETPIPE_SZ, bytes) >= 0;
}

/**
 * A close-on-exec, nonblocking pipe: `[readEnd, writeEnd]`.
 *
 * @example
 * ```ts
 * const [wakeRead, wakeWrite] = openPipe();
 * ```
 */
export function openPipe(): [number, number] {
  const fds = new Int32Array(2);
  check(lib().pipe2(new Uint8Array(fds.buffer), O_CLOEXEC | O_NONBLOCK), "pipe2");
  return [fds[0], fds[1]];
}

/**
 * This process's own process group, which a stray signal must never reach.
 *
 * @example
 * ```ts
 * declare const pgid: number;
 * if (pgid !== ownProcessGroup()) Deno.kill(-pgid, "SIGKILL");
 * ```
 */
export function ownProcessGroup(): number {
  return lib().getpgrp();
}

/**
 * Sends SIGHUP to process group `pgid` (> 1); an empty group is no error. Unlike `Deno.kill`, a
 * group that is gone costs no exception (a stack trace per exiting terminal).
 *
 * @example
 * ```ts
 * declare const pgid: number;
 * hangUpGroup(pgid);
 * ```
 */
export function hangUpGroup(pgid: number): void {
  if (pgid > 1) lib().kill(-pgid, 1);
}

/**
 * Closes a descriptor, ignoring errors (it is ours and closed once).
 *
 * @example
 * ```ts
 * declare const master: number;
 * closeFd(master);
 * ```
 */
export function closeFd(fd: number): void {
  lib().close(fd);
}
