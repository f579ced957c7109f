/**
 * Our nonblocking ends of a child's pipes: reads and writes are plain FFI calls that never
 * block, and waiting for readiness goes through the one shared poller thread. A read happens
 * only when the consumer pulls, so an absent consumer leaves the bytes in the pipe and the
 * child blocks on write (backpressure through the kernel).
 * @module
 */
import {
  POLLERR,
  POLLHUP,
  POLLIN,
  pollNow,
  POLLNVAL,
  POLLOUT,
  readNow,
  setPipeSize,
  writeNow,
} from "./_libc.ts";
import { sharedPoller } from "./_fd_poller.ts";
import { closeDescriptor } from "./_posix_spawn.ts";
import { pullChunks } from "./_chunk_source.ts";

/** A pipe holds 64 KiB on Linux: one read takes what the child wrote since the last one. */
const READ_BYTES = 64 * 1024;
/**
 * A pipe that fills a whole read is grown to this capacity: the child then runs further ahead and
 * the reader waits for it (a round trip through the poller thread) far less often: server CPU for
 * `head -c 256M /dev/zero` 1.9-2.1 s -> 1.4-1.5 s, as upstream's 1.2-1.3 s.
 */
const FLOOD_PIPE_BYTES = 1024 * 1024;
/**
 * At most this many pipes are grown at once (16 MiB of kernel buffers): an unprivileged user's
 * pipes share a budget (`/proc/sys/fs/pipe-user-pages-soft`, 64 MiB by default) past which every
 * new pipe of that user gets only two pages.
 */
const MAX_GROWN_PIPES = 16;
let grownPipes = 0;
/** Consecutive failed reads/writes that poll calls ready before the pipe is given up. */
const MAX_SPINS = 100;
// Reads are synchronous and copied out at once, so every stream can share one buffer.
const scratch = new Uint8Array(READ_BYTES);

/** Options of {@link fdReadable}. */
export interface FdReadableOptions {
  /**
   * Settles when the writer is likely gone (the child exited): the stream then reads again at
   * once instead of waiting for the poller thread to report the hangup, which saves a round
   * trip through that thread for every short-lived child.
   */
  recheck?: Promise<unknown>;
}

/**
 * The chunks read from `fd` (nonblocking, ours) until EOF; the descriptor is closed when they
 * end or the consumer stops early.
 *
 * @example
 * ```ts
 * declare const fd: number;
 * for await (const bytes of fdReadable(fd)) console.log(bytes.length);
 * ```
 */
export function fdReadable(
  fd: number,
  options: FdReadableOptions = {},
): AsyncIterableIterator<Uint8Array> {
  let done = false;
  let grown = false;
  let pending: Promise<number> | null = null;
  let recheck: Promise<number> | null = options.recheck?.then(() => -1, () => -1) ?? null;
  const finish = async () => {
    if (done) return;
    done = true;
    if (grown) grownPipes--;
    // A descriptor number must not be closed (and reused) while the poller thread watches it.
    await sharedPoller().release(fd);
    closeDescriptor(fd);
  };
  /** Readiness from the poller, or -1 once `recheck` settles (then never again). */
  const ready = async (): Promise<number> => {
    pending ??= sharedPoller().wait(fd, POLLIN).then((revents) => {
      pending = null;
      return revents;
    });
    if (!recheck) return await pending;
    const revents = await Promise.race([pending, recheck]);
    if (revents === -1) recheck = null;
    return revents;
  };
  return pullChunks({
    async pull() {
      let spins = 0;
      while (!done) {
        const n = readNow(fd, scratch);
        if (n > 0) {
          if (n === READ_BYTES && !grown && grownPipes < MAX_GROWN_PIPES) {
            grown = setPipeSize(fd, FLOOD_PIPE_BYTES);
            if (grown) grownPipes++;
          }
          return scratch.slice(0, n);
        }
        if (n === 0) break;
        // -1: EAGAIN (nothing yet) or an error; poll tells which without errno.
        const revents = pollNow(fd, POLLIN);
        if (revents & (POLLERR | POLLNVAL)) break;
        if (revents & (POLLIN | POLLHUP)) {
          if (++spins > MAX_SPINS) break;
          continue;
        }
        if (await ready() === 0) break; // released: cancelled
      }
      // Closing waits for the poller thread to let go of the descriptor: not on the way to EOF.
      void finish();
      return null;
    },
    cancel: finish,
  });
}

interface PendingWrite {
  bytes: Uint8Array;
  offset: number;
  resolve(): void;
  reject(error: Error): void;
}

/** Options of {@link FdWriter}. */
export interface FdWriterOptions {
  /** The error text of a write that cannot be done any more. Default "stdin is closed". */
  closedText?: string;
}

/**
 * Writes to `fd` (nonblocking, ours) in order; each write resolves once the kernel took all of
 * it. Once the reader is gone (EPIPE, a hangup) or {@link FdWriter.stop} was called, queued and
 * later writes fail. `close` closes the descriptor after the queued writes (EOF for the child);
 * a writer sharing its descriptor with a reader (a terminal's master) calls `stop` instead and
 * leaves closing to the owner.
 *
 * @example
 * ```ts
 * declare const fd: number;
 * const writer = new FdWriter(fd);
 * await writer.write(new TextEncoder().encode("hello\n"));
 * await writer.close();
 * ```
 */
export class FdWriter {
  #fd: number;
  #closedText: string;
  #queue: PendingWrite[] = [];
  #pumping: Promise<void> | null = null;
  #closed = false;
  #stopped = false;

  constructor(fd: number, options: FdWriterOptions = {}) {
    this.#fd = fd;
    this.#closedText = options.closedText ?? "stdin is closed";
  }

  /** Queues `bytes`; rejects if the reader is gone or the writer was closed or stopped. */
  write(bytes: Uint8Array): Promise<void> {
    if (this.#closed || this.#stopped) return Promise.reject(new Error(this.#closedText));
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    this.#queue.push({ bytes, offset: 0, resolve, reject });
    this.#pumping ??= this.#pump().finally(() => {
      this.#pumping = null;
    });
    return promise;
  }

  /** Fails the queued writes and every later one; the descriptor stays open. */
  stop(): void {
    this.#stopped = true;
    this.#failQueued();
  }

  /** Closes the descriptor once the queued writes are done (or failed). Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pumping;
    await sharedPoller().release(this.#fd);
    closeDescriptor(this.#fd);
  }

  async #pump(): Promise<void> {
    let spins = 0;
    while (this.#queue.length > 0 && !this.#stopped) {
      const item = this.#queue[0];
      const n = writeNow(this.#fd, item.bytes.subarray(item.offset));
      if (n > 0 || item.offset >= item.bytes.length) {
        spins = 0;
        item.offset += Math.max(n, 0);
        if (item.offset >= item.bytes.length) {
          this.#queue.shift();
          item.resolve();
        }
        continue;
      }
      // -1: the pipe is full (EAGAIN) or the reader is gone (EPIPE, POLLERR).
      const revents = pollNow(this.#fd, POLLOUT);
      if (revents & (POLLERR | POLLNVAL | POLLHUP) || ++spins > MAX_SPINS) break;
      // 0: the poller let go of the descriptor (it is being closed).
      if (!(revents & POLLOUT) && await sharedPoller().wait(this.#fd, POLLOUT) === 0) break;
    }
    if (this.#queue.length > 0) this.stop();
  }

  #failQueued(): void {
    for (const item of this.#queue.splice(0)) item.reject(new Error(this.#closedText));
  }
}
