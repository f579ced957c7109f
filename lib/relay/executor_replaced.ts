/**
 * The close reason our rendezvous gives the older of two executor sockets with one executor id,
 * so the evicted executor backs off instead of taking the socket straight back.
 * @module
 */

/**
 * Websocket close reason (code 1000) of an executor socket replaced by a newer one.
 * @example
 * ```ts
 * declare const socket: WebSocket;
 * import { EXECUTOR_REPLACED_REASON } from "./executor_replaced.ts";
 * socket.close(1000, EXECUTOR_REPLACED_REASON);
 * ```
 */
export const EXECUTOR_REPLACED_REASON = "replaced by a newer executor connection";
