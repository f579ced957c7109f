/**
 * Errors of the Noise layer: one class, told apart by `code`.
 * @module
 */

/**
 * Stable identifiers of Noise failures.
 * @example
 * ```ts
 * import type { NoiseErrorCode } from "./errors.ts";
 * const code: NoiseErrorCode = "decrypt_failed";
 * ```
 */
export type NoiseErrorCode =
  /** A public key JSON or raw key has the wrong suite, encoding or length. */
  | "invalid_key"
  /** A handshake message has the wrong size or a payload the pattern forbids. */
  | "invalid_handshake"
  /** AES-GCM authentication failed (tampered, replayed, or the wrong key). */
  | "decrypt_failed"
  /** A record or inner frame breaks the size rules. */
  | "invalid_record"
  /** A record arrived too far ahead of the next expected `seq`, or too many are pending. */
  | "reorder_overflow"
  /** The 2^64-1 nonce (or 2^32-1 seq) space of a direction is used up. */
  | "exhausted";

/**
 * A Noise failure. Messages never contain key material.
 *
 * @example
 * ```ts
 * import { NoiseError } from "./errors.ts";
 * const error = new NoiseError("decrypt_failed", "record 3 failed authentication");
 * error.code; // "decrypt_failed"
 * ```
 */
export class NoiseError extends Error {
  /** Stable machine-readable reason. */
  readonly code: NoiseErrorCode;

  /**
   * @param code stable reason
   * @param message what happened
   */
  /** Creates an error with a stable `code`. */
  constructor(code: NoiseErrorCode, message: string) {
    super(message);
    this.name = "NoiseError";
    this.code = code;
  }
}
