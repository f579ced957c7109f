/**
 * The one place that imports npm `ws`, typed with the small surface we use. `ws` replaces Deno's
 * websocket because Deno applies its size limit per frame, so a message split into continuation
 * frames was accepted at any size; `ws`'s `maxPayload` counts the reassembled message.
 * @module
 */
// deno-lint-ignore-file no-explicit-any
import { WebSocket as WsWebSocket, WebSocketServer as WsWebSocketServer } from "ws";

/** What we use of a `ws` socket, beyond the DOM `WebSocket` surface it also offers. */
export interface WsSocket {
  readonly readyState: number;
  readonly bufferedAmount: number;
  binaryType: string;
  send(data: string | Uint8Array): void;
  close(code?: number, reason?: string): void;
  ping(): void;
  terminate(): void;
  pause(): void;
  resume(): void;
  on(event: string, listener: (...args: any[]) => void): void;
  off(event: string, listener: (...args: any[]) => void): void;
}

/** What we use of `ws`'s server in `noServer` mode. */
export interface WsServer {
  handleUpgrade(
    request: { method: string; url: string; headers: Record<string, string> },
    socket: unknown,
    head: Uint8Array,
    onSocket: (socket: WsSocket) => void,
  ): void;
}

const lib = { WebSocket: WsWebSocket as any, WebSocketServer: WsWebSocketServer as any };

/**
 * A `noServer` websocket server whose messages (reassembled) may not exceed `maxPayload` bytes.
 *
 * @example
 * ```ts
 * const server = wsServer(64 * 1024 * 1024);
 * ```
 */
export function wsServer(maxPayload: number): WsServer {
  return new lib.WebSocketServer({
    noServer: true,
    maxPayload,
    perMessageDeflate: false,
    clientTracking: false,
  }) as WsServer;
}

/**
 * Dials a websocket (`ws://` or `wss://`) whose inbound messages may not exceed `maxPayload`.
 *
 * @example
 * ```ts
 * const socket = wsDial("ws://127.0.0.1:1/", { maxPayload: 1024, headers: {} });
 * ```
 */
export function wsDial(
  url: string,
  options: { maxPayload: number; headers?: Record<string, string> },
): WsSocket {
  const socket = new lib.WebSocket(url, {
    maxPayload: options.maxPayload,
    headers: options.headers,
    perMessageDeflate: false,
    followRedirects: false,
  }) as WsSocket;
  // An 'error' event without a listener would throw out of the event loop.
  socket.on("error", () => {});
  return socket;
}
