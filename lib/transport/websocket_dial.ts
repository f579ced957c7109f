/**
 * Dials a websocket whose inbound messages are limited to {@link MAX_MESSAGE_BYTES} after
 * reassembly (npm `ws`; Deno's own `WebSocket` limits single frames only, so a peer could send an
 * unbounded message in continuation frames). The socket is used through the DOM `WebSocket`
 * surface, which `ws` implements; {@link pingWebSocket} reaches the one extra we need.
 * @module
 */
import { MAX_MESSAGE_BYTES } from "./types.ts";
import { wsDial, type WsSocket } from "./_ws_lib.ts";

/** Options of {@link dialWebSocket}. */
export interface DialWebSocketOptions {
  /** Extra upgrade headers, e.g. `Authorization`. */
  headers?: Record<string, string>;
  /** Largest inbound message (default 64 MiB); a bigger one closes the socket with 1009. */
  maxMessageBytes?: number;
}

/**
 * Starts connecting; listen for `open`/`error`/`close` as with `new WebSocket(url)` (or use
 * `openWebSocket`). A refused upgrade errors with `Unexpected server response: <status>`.
 *
 * @example
 * ```ts
 * const socket = dialWebSocket("ws://127.0.0.1:4000", { headers: { authorization: "Bearer t" } });
 * socket.addEventListener("open", () => socket.send("{}"));
 * ```
 */
export function dialWebSocket(url: string, options: DialWebSocketOptions = {}): WebSocket {
  const socket = wsDial(url, {
    maxPayload: options.maxMessageBytes ?? MAX_MESSAGE_BYTES,
    headers: options.headers,
  });
  return socket as unknown as WebSocket;
}

/**
 * Sends a websocket ping on a socket from {@link dialWebSocket} or the HTTP listener.
 *
 * @example
 * ```ts
 * pingWebSocket(dialWebSocket("ws://127.0.0.1:4000"));
 * ```
 */
export function pingWebSocket(socket: WebSocket): void {
  (socket as unknown as WsSocket).ping();
}
