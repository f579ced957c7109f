/**
 * A WebSocket (server- or client-side) as a {@link MessageTransport}: one JSON message per frame,
 * text or binary in, text out, sends paced on `bufferedAmount` because `send()` never blocks.
 * @module
 */
import { AsyncQueue } from "../util/async_queue.ts";
import { delay } from "../util/async.ts";
import type { Inbound, MessageTransport } from "./types.ts";

/** Options of {@link websocketTransport}. */
export interface WebSocketTransportOptions {
  /** Names the peer in messages, e.g. `exec-server websocket 127.0.0.1:5000`. */
  label: string;
  /** Pause sending while more than this many bytes wait in the socket (default 4 MiB). */
  highWaterMark?: number;
}

/**
 * Wraps an open (or opening) WebSocket.
 *
 * @example
 * ```ts
 * const transport = websocketTransport(socket, { label: "exec-server websocket 127.0.0.1:1" });
 * ```
 */
export function websocketTransport(
  socket: WebSocket,
  options: WebSocketTransportOptions,
): MessageTransport {
  const highWaterMark = options.highWaterMark ?? 4 * 1024 * 1024;
  const inbound = new AsyncQueue<Inbound>();
  const closed = Promise.withResolvers<void>();
  socket.binaryType = "arraybuffer";
  socket.addEventListener("message", (event) => {
    const data = event.data;
    inbound.push(typeof data === "string" ? data : new Uint8Array(data as ArrayBuffer));
  });
  const onClose = () => {
    inbound.close();
    closed.resolve();
  };
  socket.addEventListener("close", onClose);
  socket.addEventListener("error", onClose);
  if (socket.readyState === WebSocket.CLOSED) onClose();

  return {
    label: options.label,
    receive: () => inbound,
    async send(text: string) {
      while (socket.readyState === WebSocket.OPEN && socket.bufferedAmount > highWaterMark) {
        await delay(1);
      }
      if (socket.readyState !== WebSocket.OPEN) throw new Error("websocket is closed");
      socket.send(text);
    },
    close() {
      if (socket.readyState === WebSocket.CONNECTING || socket.readyState === WebSocket.OPEN) {
        try {
          socket.close();
        } catch {
          // already closing
        }
      }
    },
    closed: closed.promise,
  };
}
