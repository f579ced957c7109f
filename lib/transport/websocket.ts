/**
 * A WebSocket (server- or client-side) as a {@link MessageTransport}: one JSON message per frame,
 * text or binary in, text out, sends paced on `bufferedAmount` because `send()` never blocks.
 * @module
 */
import { AsyncQueue } from "../util/async_queue.ts";
import { delay } from "../util/async.ts";
import { log } from "../util/log.ts";
import type { Inbound, MessageTransport } from "./types.ts";

// Strings count at 1 byte per UTF-16 unit: an estimate, enough for a memory bound.
function sizeOf(item: string | Uint8Array): number {
  return typeof item === "string" ? item.length : item.byteLength;
}

/** Options of {@link websocketTransport}. */
export interface WebSocketTransportOptions {
  /** Names the peer in messages, e.g. `exec-server websocket 127.0.0.1:5000`. */
  label: string;
  /** Pause sending while more than this many bytes wait in the socket (default 4 MiB). */
  highWaterMark?: number;
  /**
   * A WebSocket cannot pause its reader, so a peer that sends far faster than we consume is
   * disconnected once this many received bytes wait unprocessed (default 256 MiB).
   */
  maxQueuedBytes?: number;
}

/**
 * Wraps an open (or opening) WebSocket.
 *
 * @example
 * ```ts
 * declare const socket: WebSocket;
 * const transport = websocketTransport(socket, { label: "exec-server websocket 127.0.0.1:1" });
 * ```
 */
export function websocketTransport(
  socket: WebSocket,
  options: WebSocketTransportOptions,
): MessageTransport {
  const highWaterMark = options.highWaterMark ?? 4 * 1024 * 1024;
  const inbound = new AsyncQueue<string | Uint8Array>();
  const maxQueuedBytes = options.maxQueuedBytes ?? 256 * 1024 * 1024;
  let queuedBytes = 0;
  const closed = Promise.withResolvers<void>();
  socket.binaryType = "arraybuffer";
  socket.addEventListener("message", (event) => {
    const data = event.data;
    const item = typeof data === "string" ? data : new Uint8Array(data as ArrayBuffer);
    queuedBytes += sizeOf(item);
    if (queuedBytes > maxQueuedBytes) {
      log.warn(`${options.label}: peer sent ${queuedBytes} unprocessed bytes; disconnecting`);
      inbound.close();
      socket.close(1008, "sending faster than the server processes");
      return;
    }
    inbound.push(item);
  });
  let closeInfo: { code: number; reason: string } | undefined;
  const onClose = () => {
    inbound.close();
    closed.resolve();
  };
  socket.addEventListener("close", (event: CloseEvent) => {
    closeInfo ??= { code: event.code, reason: event.reason };
    onClose();
  });
  socket.addEventListener("error", onClose);
  if (socket.readyState === WebSocket.CLOSED) onClose();

  return {
    label: options.label,
    async *receive(): AsyncGenerator<Inbound> {
      for await (const item of inbound) {
        queuedBytes -= sizeOf(item);
        yield item;
      }
    },
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
    get closeInfo() {
      return closeInfo;
    },
  };
}
