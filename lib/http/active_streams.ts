/**
 * The streamed `http/request` ids active on one connection. A `requestId` is reserved from the
 * request until its terminal `http/request/bodyDelta` (or failure), and every stream still
 * running is aborted when the connection ends.
 * @module
 */
import { invalidParams } from "../jsonrpc/errors.ts";

/**
 * Reservations of streamed request ids, with an abort controller per stream.
 *
 * @example
 * ```ts
 * using streams = new ActiveStreams();
 * const reservation = streams.reserve("stream-1");
 * try {
 *   // ... pump the body with reservation.signal ...
 * } finally {
 *   reservation.release();
 * }
 * ```
 */
export class ActiveStreams implements Disposable {
  #active = new Map<string, AbortController>();

  /** Number of streams in flight. */
  get size(): number {
    return this.#active.size;
  }

  /** Reserves `requestId`, or throws -32602 when it is already active. */
  reserve(requestId: string): { signal: AbortSignal; release(): void } {
    if (this.#active.has(requestId)) {
      throw invalidParams(
        `http/request streamResponse requestId \`${requestId}\` is already active`,
      );
    }
    const controller = new AbortController();
    this.#active.set(requestId, controller);
    return {
      signal: controller.signal,
      release: () => {
        if (this.#active.get(requestId) === controller) this.#active.delete(requestId);
      },
    };
  }

  /** Aborts every active stream. */
  [Symbol.dispose](): void {
    for (const controller of this.#active.values()) {
      controller.abort(new Error("connection closed"));
    }
    this.#active.clear();
  }
}
