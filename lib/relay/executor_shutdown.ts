/**
 * The `reset` reason an executor gives every stream when it shuts down (`remote` on SIGTERM), so
 * that harness clients stop at once instead of spending their resume window on an executor that
 * is not coming back: the relay's counterpart of `serve`'s websocket close 1001.
 * @module
 */

/**
 * Relay `reset{reason}` of a stream whose executor is shutting down.
 * @example
 * ```ts
 * import { EXECUTOR_SHUTDOWN_REASON } from "./executor_shutdown.ts";
 * const reset = { reason: EXECUTOR_SHUTDOWN_REASON };
 * ```
 */
export const EXECUTOR_SHUTDOWN_REASON = "executor shutting down";

/**
 * What a harness transport reports as its `closeInfo` after that reset: websocket code 1001
 * ("going away"), which the client treats as "the server is shutting down".
 * @example
 * ```ts
 * import { SHUTDOWN_CLOSE_INFO } from "./executor_shutdown.ts";
 * SHUTDOWN_CLOSE_INFO.code; // 1001
 * ```
 */
export const SHUTDOWN_CLOSE_INFO: { readonly code: number; readonly reason: string } = {
  code: 1001,
  reason: EXECUTOR_SHUTDOWN_REASON,
};
