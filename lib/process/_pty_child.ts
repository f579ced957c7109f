/**
 * One child on one pseudo-terminal: the reading, writing, signalling and teardown half of
 * `PtySpawner` (pty_spawner.ts), which does the launching. Kept apart because the two change for different
 * reasons: how a child gets its terminal, and how bytes and hangups flow once it has one.
 * @module
 */

import type { ChildHandle, ChildOutput } from "./spawner.ts";
import {
  closeFd,
  eofChar,
  foregroundGroup,
  hangUpGroup,
  ownProcessGroup,
  POLLERR,
  POLLHUP,
  POLLIN,
  pollNow,
  POLLNVAL,
  type PtyPair,
  readNow,
  setWindowSize,
} from "./_libc.ts";
import { invalidParams } from "../jsonrpc/errors.ts";
import { killGroup } from "../util/process_group.ts";
import { sessionGroups } from "./_session_kill.ts";
import { sharedPoller } from "./_fd_poller.ts";
import { FdWriter } from "./_fd_stream.ts";
import { pullChunks } from "./_chunk_source.ts";

/** Upper bound of one output chunk (spec §4.1). */
const READ_CHUNK = 8192;
/** After a forced close, at most this many more chunks are drained before the stream ends. */
const FINAL_DRAIN_CHUNKS = 64;
/** Consecutive failed reads/writes that poll calls ready before we give the terminal up. */
const MAX_SPINS = 100;

/**
 * Validates a window dimension from the wire (1..65535), or returns `fallback` when absent.
 *
 * @example
 * ```ts
 * windowDimension(undefined, 24, "rows"); // 24
 * ```
 */
export function windowDimension(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1 || value > 0xffff) {
    throw invalidParams(`${name} must be an integer between 1 and 65535`);
  }
  return value;
}

/**
 * One child on one terminal, and the descriptors it owns. The child must already lead its own
 * session with the terminal as controlling tty (posix_spawn's setsid and first file action
 * did that before exec), so a signal to its group can never miss.
 *
 * @example
 * ```ts ignore
 * declare const pid: number;
 * const child = new PtyChild(openPty(24, 80), { pid, exitCode: childExit(pid) }, 100);
 * ```
 */
export class PtyChild implements ChildHandle {
  readonly pid: number;
  readonly outputs: ChildOutput[];
  readonly hasStdin = true;
  readonly exitCode: Promise<number>;

  #master: number;
  #slave: number;
  #graceMs: number;
  #graceTimer: ReturnType<typeof setTimeout> | undefined;
  #scratch = new Uint8Array(READ_CHUNK);
  #finalChunks = 0;
  /** Main child reaped. */
  #exited = false;
  /** The `pty` readable ended or was cancelled: nobody reads the master any more. */
  #readerDone = false;
  /** Stop waiting on the terminal: the stream ends after a short final drain. */
  #closing = false;
  /** Descriptors closed. */
  #released = false;
  #writer: FdWriter;
  /** The poller wait for input in flight, shared by successive pulls. */
  #readable: Promise<void> | null = null;
  /** Settles at the child's exit; consumed by the first wait that sees it. */
  #exitSeen: Promise<void> | null = null;

  constructor(pair: PtyPair, child: { pid: number; exitCode: Promise<number> }, graceMs: number) {
    this.pid = child.pid;
    this.#master = pair.master;
    this.#slave = pair.slave;
    this.#graceMs = graceMs;
    this.#writer = new FdWriter(pair.master, { closedText: "the terminal is closed" });
    const readable = pullChunks({
      pull: () => this.#pull(),
      cancel: () => this.#finishReading(),
    });
    this.outputs = [{ stream: "pty", readable }];
    this.exitCode = child.exitCode.catch(() => -1).then((code) => {
      this.#onExit();
      return code;
    });
    this.#exitSeen = this.exitCode.then(() => {});
  }

  write(bytes: Uint8Array): Promise<void> {
    return this.#writer.write(bytes);
  }

  closeStdin(): Promise<void> {
    if (this.#closing) return Promise.resolve();
    // The line discipline turns VEOF into end-of-file for a reader in canonical mode; a raw-mode
    // program just receives the byte, as it would from a keyboard.
    return this.write(new Uint8Array([eofChar(this.#master)]));
  }

  signalGroup(signal: Deno.Signal): void {
    const own = ownProcessGroup();
    const fg = this.#released ? -1 : foregroundGroup(this.#master);
    if (signal === "SIGINT" || signal === "SIGQUIT" || signal === "SIGTSTP") {
      const target = fg > 0 ? fg : this.pid;
      if (target !== own) killGroup(target, signal);
      return;
    }
    const groups = sessionGroups(this.pid);
    if (fg > 0) groups.add(fg);
    for (const pgid of groups) if (pgid !== own) killGroup(pgid, signal);
  }

  resize(rows: number, cols: number): void {
    windowDimension(rows, rows, "rows");
    windowDimension(cols, cols, "cols");
    if (!this.#released) setWindowSize(this.#master, rows, cols);
  }

  /**
   * Reads one chunk (null at the end), only when the consumer asks, so an absent consumer
   * applies backpressure through the kernel instead of growing a queue here.
   */
  async #pull(): Promise<Uint8Array | null> {
    let spins = 0;
    for (;;) {
      const n = this.#released ? 0 : readNow(this.#master, this.#scratch);
      if (n > 0 && !(this.#closing && ++this.#finalChunks > FINAL_DRAIN_CHUNKS)) {
        return this.#scratch.slice(0, n);
      }
      if (n <= 0 && !this.#released) {
        // -1 is either "nothing yet" (EAGAIN) or EIO once no slave descriptor is left; poll
        // tells the two apart without relying on errno surviving the trip back to JavaScript.
        const revents = pollNow(this.#master, POLLIN);
        // Readable yet failing reads, again and again, is a broken terminal: end the stream.
        const broken = (revents & POLLIN) !== 0 && ++spins >= MAX_SPINS;
        if (n < 0 && (revents & POLLIN) && !broken) continue;
        if (n < 0 && !(revents & (POLLHUP | POLLERR | POLLNVAL)) && !this.#closing && !broken) {
          await this.#waitReadable();
          continue;
        }
      }
      this.#finishReading();
      return null;
    }
  }

  /**
   * Waits until the master is readable. Once, the child's exit ends the wait early: its side of
   * the terminal is closed by then, so reading at once finds the rest of the output and the
   * hangup without another round trip through the poller thread.
   */
  async #waitReadable(): Promise<void> {
    if (this.#closing) return;
    this.#readable ??= sharedPoller().wait(this.#master, POLLIN).then(() => {
      this.#readable = null;
    });
    if (this.#exitSeen) {
      const exitSeen = this.#exitSeen;
      this.#exitSeen = null;
      await Promise.race([this.#readable, exitSeen]);
    } else await this.#readable;
  }

  #onExit(): void {
    this.#exited = true;
    // Our slave descriptor only kept the terminal alive until the child had its own; from now
    // on the master reports EOF as soon as the last other holder goes.
    if (this.#slave >= 0) closeFd(this.#slave);
    this.#slave = -1;
    if (this.#readerDone) {
      void this.#release();
      return;
    }
    // The kernel hangs up only the foreground group when a session leader dies; background jobs
    // would keep the slave open and delay `process/closed`. Hang up the leader's group too, then
    // kill whatever in the session still holds the terminal after the grace period.
    hangUpGroup(this.pid);
    this.#graceTimer = setTimeout(() => {
      this.#graceTimer = undefined;
      if (this.#readerDone) return;
      this.signalGroup("SIGKILL");
      this.#close();
    }, this.#graceMs);
  }

  #finishReading(): void {
    this.#readerDone = true;
    clearTimeout(this.#graceTimer);
    this.#graceTimer = undefined;
    if (this.#exited) void this.#release();
  }

  /** Ends every wait: the reader drains what is buffered and ends, writes fail. */
  #close(): void {
    if (this.#closing) return;
    this.#closing = true;
    void sharedPoller().release(this.#master);
    this.#writer.stop();
  }

  async #release(): Promise<void> {
    if (this.#released) return;
    this.#close();
    // A descriptor number must not be closed (and reused) while a worker thread polls it.
    await sharedPoller().release(this.#master);
    if (this.#released) return;
    this.#released = true;
    closeFd(this.#master);
  }
}
