/**
 * The few async helpers the project needs, written once.
 * @module
 */
import { setImmediate } from "node:timers";

/**
 * Resolves after `ms` milliseconds, or rejects with the signal's reason when aborted.
 *
 * @example
 * ```ts
 * await delay(10);
 * ```
 */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    function onAbort() {
      clearTimeout(timer);
      reject(signal!.reason);
    }
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * A counting semaphore for bounding concurrency.
 *
 * @example
 * ```ts
 * const lane = new Semaphore(4);
 * await lane.run(() => fetch("http://127.0.0.1:8080/"));
 * ```
 */
export class Semaphore {
  #available: number;
  #waiters: (() => void)[] = [];
  constructor(permits: number) {
    this.#available = permits;
  }
  /** Runs `task` while holding one permit. */
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#available > 0) this.#available--;
    else await new Promise<void>((resolve) => this.#waiters.push(resolve));
    try {
      return await task();
    } finally {
      const next = this.#waiters.shift();
      if (next) next();
      else this.#available++;
    }
  }
}

/**
 * Computes the retry delay for attempt `n` (0-based): `initialMs` doubling up to `maxMs`.
 *
 * @example
 * ```ts
 * backoffDelay(3, { initialMs: 1000, maxMs: 30000 }); // 8000
 * ```
 */
export function backoffDelay(attempt: number, options: BackoffOptions): number {
  return Math.min(options.maxMs, options.initialMs * 2 ** Math.min(attempt, 30));
}

/** Options of {@link backoffDelay}. */
export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
}

/**
 * Waits until `promise` settles or `ms` elapse, whichever is first; rejects with the signal's
 * reason if it aborts first. Never rejects because of `promise` itself.
 *
 * @example
 * ```ts
 * declare const connectionSignal: AbortSignal;
 * declare const somethingChanged: Promise<void>;
 * await settleWithin(somethingChanged, 5000, connectionSignal);
 * ```
 */
export function settleWithin(
  promise: Promise<unknown>,
  ms: number,
  signal?: AbortSignal,
): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const finish = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      resolve();
    };
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(finish, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
    promise.then(finish, finish);
  });
}

/**
 * Resolves on a fresh macrotask (unclamped, unlike nested `setTimeout(0)`), letting timers and
 * other queued tasks run. Not sockets: while work stays ready, Deno polls them only every ~60
 * loop turns (a flood that must let requests in waits on `bulkTurn` in `bulk_priority.ts`).
 *
 * @example
 * ```ts
 * declare const readable: ReadableStream<Uint8Array>;
 * let bytes = 0;
 * for await (const chunk of readable) {
 *   bytes += chunk.length;
 *   await yieldToEventLoop();
 * }
 * ```
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
