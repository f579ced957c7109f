/**
 * Rendezvous → executor keepalive: a `heartbeat` frame on a reserved `stream_id` that executors
 * ignore (no stream is ever created for a heartbeat), sent by our rendezvous so an idle
 * executor can tell a silently dead connection from a quiet one.
 * @module
 */
import { encodeFrame } from "./frame.ts";

/**
 * The reserved `stream_id` of keepalive frames.
 * @example
 * ```ts
 * import { KEEPALIVE_STREAM_ID } from "./keepalive.ts";
 * KEEPALIVE_STREAM_ID; // "rendezvous-keepalive"
 * ```
 */
export const KEEPALIVE_STREAM_ID = "rendezvous-keepalive";

/**
 * The encoded keepalive frame (always the same bytes).
 * @example
 * ```ts
 * declare const socket: WebSocket;
 * import { KEEPALIVE_FRAME } from "./keepalive.ts";
 * socket.send(KEEPALIVE_FRAME);
 * ```
 */
export const KEEPALIVE_FRAME: Uint8Array = encodeFrame({
  streamId: KEEPALIVE_STREAM_ID,
  body: { case: "heartbeat", value: {} },
});

/**
 * Whether `data` is the keepalive frame.
 * @example
 * ```ts
 * import { isKeepalive, KEEPALIVE_FRAME } from "./keepalive.ts";
 * isKeepalive(KEEPALIVE_FRAME); // true
 * ```
 */
export function isKeepalive(data: Uint8Array): boolean {
  if (data.length !== KEEPALIVE_FRAME.length) return false;
  for (let i = 0; i < data.length; i++) if (data[i] !== KEEPALIVE_FRAME[i]) return false;
  return true;
}
