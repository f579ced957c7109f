/**
 * Deadlines for waits inside tests. Every test also declares a `timeout` (checked by
 * `scripts/check_tests.ts`); these bound a single wait and name what was awaited, so a broken
 * behaviour fails in seconds with a message that says what never happened.
 * @module
 */

/**
 * Resolves with `work`, or rejects after `ms` with a message naming `what`.
 *
 * @example
 * ```ts
 * import { within } from "./_deadline.ts";
 * await within(1000, "a resolved promise", Promise.resolve(1)); // 1
 * ```
 */
export async function within<T>(ms: number, what: string, work: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Polls `condition` (sync or async) until it holds; rejects after `ms` naming `what`. Only for
 * state that announces no event (a pid dying, a counter of another process); anything that
 * does announce itself is awaited with {@link within}.
 *
 * @example
 * ```ts
 * import { until } from "./_deadline.ts";
 * const started = Date.now();
 * await until(1000, "50 ms to pass", () => Date.now() - started >= 50);
 * ```
 */
export async function until(
  ms: number,
  what: string,
  condition: () => boolean | Promise<boolean>,
): Promise<void> {
  const deadline = performance.now() + ms;
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error(`timed out after ${ms} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
