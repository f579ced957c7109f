/**
 * Recovery of a resumable session after its transport dropped: the retry loop within the
 * recovery budget (which failures are worth another attempt, and the pause between them), and
 * the replay that brings each running process up to date on the new connection (spec §5).
 * The client owns the state; this module owns the policy.
 * @module
 */
import { ErrorCode } from "../jsonrpc/mod.ts";
import { Method } from "../protocol/methods.ts";
import type { ReadChunk } from "../protocol/process.ts";
import { delay } from "../util/async.ts";
import { decodeBase64 } from "../util/base64.ts";
import type { ReplayBatch } from "./_sequencer.ts";
import { ConnectError, DisconnectedError, ProcessFailedError, RemoteCallError } from "./errors.ts";
import type { ExecProcess } from "./process.ts";

/**
 * Whether a failed recovery attempt is worth another: the link dropped again, the server could
 * not be reached (yet), or still holds the session for the old connection.
 *
 * @example
 * ```ts
 * import { isRetryable } from "./_recovery.ts";
 * import { DisconnectedError } from "./errors.ts";
 * isRetryable(new DisconnectedError("transport_closed", "gone")); // true
 * ```
 */
export function isRetryable(err: unknown): boolean {
  if (err instanceof DisconnectedError) return err.code === "transport_closed";
  if (err instanceof ConnectError) return err.code === "unreachable" || err.code === "timeout";
  if (err instanceof RemoteCallError) return err.rpcCode === ErrorCode.SessionAttached;
  return false;
}

/**
 * Whether a request cut by `err` may be sent again on the recovered connection: only a
 * dropped transport on a resumable connector, while the client is still open.
 *
 * @example
 * ```ts
 * import { canResend } from "./_recovery.ts";
 * import { DisconnectedError } from "./errors.ts";
 * canResend(new DisconnectedError("transport_closed", "gone"), { resumable: true, closing: false }); // true
 * ```
 */
export function canResend(err: unknown, state: { resumable: boolean; closing: boolean }): boolean {
  return err instanceof DisconnectedError && err.code === "transport_closed" && state.resumable &&
    !state.closing;
}

/**
 * Options of {@link retryWithin}.
 *
 * @example
 * ```ts
 * import type { RetryWithinOptions } from "./_recovery.ts";
 * const options: RetryWithinOptions = {
 *   budgetMs: 25_000,
 *   signal: new AbortController().signal,
 *   retryDelayMs: () => 100,
 *   attempt: () => Promise.resolve("done"),
 * };
 * ```
 */
export interface RetryWithinOptions {
  /** Total time allowed, from the call. */
  budgetMs: number;
  /** Stops retrying (the client is closing). */
  signal: AbortSignal;
  /** Pause before attempt `attempt + 1` after attempt `attempt` (0-based) threw. */
  retryDelayMs(attempt: number): number;
  /**
   * One attempt, given the time left: `done` ends the loop; `again` tries again at once (the
   * new link dropped before it was up to date); a throw tries again after a pause when
   * {@link isRetryable}, else gives up.
   */
  attempt(remainingMs: number): Promise<"done" | "again">;
}

/**
 * The outcome of {@link retryWithin}: recovered after `elapsedMs`, or gave up with the last
 * attempt's error (`null` when stopped before any attempt failed).
 *
 * @example
 * ```ts
 * import type { RetryOutcome } from "./_recovery.ts";
 * const outcome: RetryOutcome = { ok: true, elapsedMs: 120 };
 * ```
 */
export type RetryOutcome = { ok: true; elapsedMs: number } | { ok: false; lastError: unknown };

/**
 * Runs attempts until one is `done`, the budget is spent, a failure is not retryable, or the
 * signal aborts.
 *
 * @example
 * ```ts
 * import { retryWithin } from "./_recovery.ts";
 * const outcome = await retryWithin({
 *   budgetMs: 1000,
 *   signal: new AbortController().signal,
 *   retryDelayMs: () => 10,
 *   attempt: () => Promise.resolve("done"),
 * });
 * ```
 */
export async function retryWithin(options: RetryWithinOptions): Promise<RetryOutcome> {
  const started = performance.now();
  const deadline = started + options.budgetMs;
  let lastError: unknown = null;
  let attempt = 0;
  while (!options.signal.aborted) {
    const remaining = deadline - performance.now();
    if (remaining <= 0) break;
    try {
      if (await options.attempt(remaining) === "done") {
        return { ok: true, elapsedMs: performance.now() - started };
      }
    } catch (err) {
      lastError = err;
      if (!isRetryable(err)) break;
      await delay(Math.min(options.retryDelayMs(attempt++), remaining), options.signal)
        .catch(() => {});
    }
  }
  return { ok: false, lastError };
}

function decodeReplay(result: unknown): ReplayBatch {
  const r = result as {
    chunks: ReadChunk[];
    nextSeq: number;
    exited: boolean;
    exitCode: number | null;
    closed: boolean;
  };
  return {
    chunks: r.chunks.map((c) => ({
      kind: "output" as const,
      seq: c.seq,
      stream: c.stream,
      data: decodeBase64(c.chunk),
    })),
    nextSeq: r.nextSeq,
    exited: r.exited,
    exitCode: r.exitCode,
    closed: r.closed,
  };
}

/**
 * Brings one process up to date: reads what it emitted after the last event we saw
 * (`process/read`) and feeds it in order. A process the server forgot, or whose events it no
 * longer retains, fails with a {@link ProcessFailedError} saying so (and the latter is
 * terminated, since nobody can follow it any more); `forget` then drops it from the client.
 *
 * @example
 * ```ts ignore
 * await replayProcess(proc, { call: (m, p) => conn.request(m, p), forget: (id) => table.delete(id) });
 * ```
 */
export async function replayProcess(
  proc: ExecProcess,
  options: {
    call: (method: string, params: unknown) => Promise<unknown>;
    forget: (processId: string) => void;
  },
): Promise<void> {
  let result: unknown;
  try {
    result = await options.call(Method.processRead, {
      processId: proc.id,
      afterSeq: proc.lastSeq,
      waitMs: 0,
    });
  } catch (err) {
    if (err instanceof RemoteCallError && /unknown process id/.test(err.message)) {
      proc.fail(
        new ProcessFailedError(
          "lost",
          proc.id,
          `the server no longer knows process ${proc.id}; its remaining output is lost`,
        ),
      );
      options.forget(proc.id);
      return;
    }
    throw err;
  }
  const lost = proc.replay(decodeReplay(result));
  if (lost !== null) {
    proc.fail(
      new ProcessFailedError(
        "events_evicted",
        proc.id,
        `process events are no longer retained while recovering through sequence ${lost}; ` +
          `process ${proc.id} was terminated`,
      ),
    );
    options.forget(proc.id);
    options.call(Method.processTerminate, { processId: proc.id }).catch(() => {});
  }
}
