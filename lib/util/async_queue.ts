/**
 * A single-consumer queue that turns pushed values into an async iterable.
 * @module
 */

/**
 * @example
 * ```ts
 * const q = new AsyncQueue<string>();
 * q.push("a");
 * q.close();
 * for await (const v of q) console.log(v);
 * ```
 */
export class AsyncQueue<T> implements AsyncIterable<T> {
  #items: T[] = [];
  #head = 0;
  #closed = false;
  /** The consumer's pending `next()`, settled straight with the value (no extra promise hops). */
  #waiter: PromiseWithResolvers<IteratorResult<T>> | null = null;
  #space: PromiseWithResolvers<void> | null = null;
  #onTake: ((value: T) => void) | undefined;

  /** `onTake` sees each value as the consumer takes it (e.g. to release its byte budget). */
  constructor(options: { onTake?: (value: T) => void } = {}) {
    this.#onTake = options.onTake;
  }

  /** Number of queued, unconsumed values. */
  get length(): number {
    return this.#items.length - this.#head;
  }

  /** Adds a value; ignored after close. */
  push(value: T): void {
    if (this.#closed) return;
    const waiter = this.#waiter;
    if (waiter !== null && this.#head === this.#items.length) {
      this.#waiter = null;
      this.#onTake?.(value);
      waiter.resolve({ done: false, value });
      return;
    }
    this.#items.push(value);
  }

  /** Ends the iteration once queued values are consumed. */
  close(): void {
    this.#closed = true;
    const waiter = this.#waiter;
    this.#waiter = null;
    waiter?.resolve({ done: true, value: undefined });
    this.#space?.resolve();
  }

  /** Resolves once fewer than `limit` values are queued (or the queue closed): producer pacing. */
  async belowLimit(limit: number): Promise<void> {
    while (!this.#closed && this.length >= limit) {
      this.#space ??= Promise.withResolvers<void>();
      await this.#space.promise;
    }
  }

  /**
   * A plain iterator, not an async generator: one settled promise per value instead of the
   * generator's await/yield round trips (this queue sits on every message's path).
   */
  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: () => this.#next(),
      return: () => Promise.resolve({ done: true, value: undefined }),
    };
  }

  #next(): Promise<IteratorResult<T>> {
    if (this.#head < this.#items.length) {
      return Promise.resolve({ done: false, value: this.#take() });
    }
    if (this.#closed) return Promise.resolve({ done: true, value: undefined });
    // A second concurrent next() waits behind the first, so no value is delivered twice.
    if (this.#waiter) return this.#waiter.promise.then(() => this.#next());
    this.#waiter = Promise.withResolvers<IteratorResult<T>>();
    return this.#waiter.promise;
  }

  #take(): T {
    const value = this.#items[this.#head];
    this.#items[this.#head++] = undefined as T;
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    if (this.#space) {
      this.#space.resolve();
      this.#space = null;
    }
    this.#onTake?.(value);
    return value;
  }
}
