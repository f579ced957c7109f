/**
 * One worker thread that waits for every child descriptor at once (terminals and pipes). A
 * blocking FFI call occupies a thread of Deno's blocking pool (shared with async file I/O) for as
 * long as it waits, so one `poll` per idle child would let a few hundred idle shells starve the
 * whole server.
 * @module
 */

import {
  openPipe,
  POLLERR,
  POLLHUP,
  POLLIN,
  POLLNVAL,
  pollWait,
  readNow,
  writeNow,
} from "./_libc.ts";

const WAKE_BYTE = new Uint8Array([1]);

interface Waiter {
  fd: number;
  events: number;
  resolve(revents: number): void;
}

/**
 * Multiplexes readiness waits on nonblocking descriptors over a single `poll` running on a
 * worker thread. A new wait interrupts the running `poll` (through a wake-up pipe) so that it
 * is included at once.
 *
 * @example
 * ```ts
 * import { POLLIN } from "./_libc.ts";
 * declare const master: number;
 * const revents = await sharedPoller().wait(master, POLLIN);
 * ```
 */
export class FdPoller {
  #waiters: Waiter[] = [];
  #wake: [number, number] | undefined;
  /** The `poll` in flight, and the descriptors it watches. */
  #inflight: { done: Promise<unknown>; fds: Set<number> } | undefined;
  #scratch = new Uint8Array(64);
  #flushQueued = false;
  #running = false;
  /** The poll in flight was already told to return. */
  #interrupted = false;

  /**
   * Resolves with the `revents` once `fd` is ready for `events` or reports an error or hangup,
   * or with 0 when the wait is cancelled through {@link FdPoller.release}.
   */
  wait(fd: number, events: number): Promise<number> {
    const { promise, resolve } = Promise.withResolvers<number>();
    this.#waiters.push({ fd, events, resolve });
    // Waits asked for in one turn (a child's stdout, stderr and exit) share one `poll` round:
    // each round costs a hop to a worker thread and back.
    if (!this.#flushQueued) {
      this.#flushQueued = true;
      queueMicrotask(() => this.#flush());
    }
    return promise;
  }

  #flush(): void {
    this.#flushQueued = false;
    if (this.#inflight) this.#interrupt();
    else if (!this.#running && this.#waiters.length > 0) void this.#run();
  }

  /**
   * Ends every wait on `fd` (they resolve with 0) and returns once no worker thread is polling
   * it, so that the caller may close it: a closed descriptor number can be reused at once.
   */
  async release(fd: number): Promise<void> {
    const cancelled = this.#waiters.filter((w) => w.fd === fd);
    this.#waiters = this.#waiters.filter((w) => w.fd !== fd);
    for (const waiter of cancelled) waiter.resolve(0);
    while (this.#inflight?.fds.has(fd)) {
      this.#interrupt();
      await this.#inflight.done;
    }
  }

  #interrupt(): void {
    // One wake-up ends the round: releasing a child's stdout and stderr writes it once.
    if (this.#interrupted) return;
    this.#interrupted = true;
    writeNow(this.#wakePipe()[1], WAKE_BYTE);
  }

  #wakePipe(): [number, number] {
    // Lives as long as the process: the poller is shared by every child.
    return this.#wake ??= openPipe();
  }

  async #run(): Promise<void> {
    this.#running = true;
    try {
      await this.#rounds();
    } finally {
      this.#running = false;
    }
  }

  async #rounds(): Promise<void> {
    const [wakeRead] = this.#wakePipe();
    while (this.#waiters.length > 0) {
      const interest = new Map<number, number>();
      for (const w of this.#waiters) interest.set(w.fd, (interest.get(w.fd) ?? 0) | w.events);
      const fds = [...interest, [wakeRead, POLLIN] as [number, number]];
      const done = pollWait(fds);
      this.#inflight = { done, fds: new Set(interest.keys()) };
      let revents: number[];
      try {
        revents = await done;
      } finally {
        this.#inflight = undefined;
        this.#interrupted = false;
      }
      while (readNow(wakeRead, this.#scratch) > 0) {
        // drain the wake-ups that ended this round
      }
      const ready = new Map(fds.map(([fd], i) => [fd, revents[i]]));
      const still: Waiter[] = [];
      for (const w of this.#waiters) {
        const got = (ready.get(w.fd) ?? 0) & (w.events | POLLERR | POLLHUP | POLLNVAL);
        if (got) w.resolve(got);
        else still.push(w);
      }
      this.#waiters = still;
    }
  }
}

let shared: FdPoller | undefined;

/**
 * The process-wide poller.
 *
 * @example
 * ```ts
 * import { POLLOUT } from "./_libc.ts";
 * declare const master: number;
 * await sharedPoller().wait(master, POLLOUT);
 * ```
 */
export function sharedPoller(): FdPoller {
  return shared ??= new FdPoller();
}
