/**
 * Errors raised by the relay: one class, told apart by a stable `code`.
 * @module
 */

/**
 * Stable identifiers of relay failures.
 * @example
 * ```ts
 * import type { RelayErrorCode } from "./errors.ts";
 * const code: RelayErrorCode = "stream_closed";
 * ```
 */
export type RelayErrorCode =
  /** A frame could not be decoded or broke a rule of the frame format. */
  | "invalid_frame"
  /** A peer broke the stream protocol (bad segment, ack for an unsent seq, ...). */
  | "protocol_error"
  /** The stream ended (locally, by a peer `reset`, or with its link). */
  | "stream_closed"
  /** A message cannot be sent (empty). */
  | "invalid_message"
  /** The websocket to the rendezvous could not be opened. */
  | "connect_failed";

/**
 * A relay failure. `code` is stable; `message` says what happened and what to do.
 *
 * @example
 * ```ts
 * import { RelayError } from "./errors.ts";
 * try {
 *   throw new RelayError("stream_closed", "relay stream s closed: reset by peer (bye)");
 * } catch (error) {
 *   if (error instanceof RelayError && error.code === "stream_closed") console.log("gone");
 * }
 * ```
 */
export class RelayError extends Error {
  /** Stable machine-readable reason. */
  readonly code: RelayErrorCode;

  /**
   * Creates an error.
   * @param code stable reason
   * @param message human-readable explanation
   * @param options `cause`: the underlying failure
   */
  constructor(code: RelayErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "RelayError";
    this.code = code;
  }
}
