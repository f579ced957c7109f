/**
 * A WebSocket (server- or client-side) as a {@link MessageTransport}: one JSON message per frame,
 * text or binary in, text out, sends paced on `bufferedAmount` because `send()` never blocks.
 * @module
 */
import { AsyncQueue } from "../util/async_queue.ts";
import { delay } from "../util/async.ts";
import { log } from "../util/log.ts";
import { type Inbound, type MessageTransport, SENT } from "./types.ts";

/**
 * Received-but-unprocessed plus waiting-to-be-sent bytes of every websocket transport of this
 * process together; a connection whose traffic would push the total past it is closed (1008),
 * so many stalled connections cannot add up to an out-of-memory exit.
 *
 * @example
 * ```ts
 * console.log(`all websockets together hold at most ${MEMORY_BUDGET_BYTES} bytes`);
 * ```
 */
export const MEMORY_BUDGET_BYTES = 1024 * 1024 * 1024;
let budgetUsed = 0;

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
   * A peer is disconnected once this many received bytes wait unprocessed (sockets that cannot
   * pause their reader; npm `ws` sockets stop reading at 16 MiB instead), or once this many
   * bytes wait to be sent to it (default 256 MiB).
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
  const inbound = new AsyncQueue<string | Uint8Array>({
    onTake(item) {
      if (!closedOnce) {
        queuedBytes -= sizeOf(item);
        budgetUsed -= sizeOf(item);
      }
      if (paused && queuedBytes < pauseAtBytes / 4) {
        paused = false;
        pausable.resume!();
      }
    },
  });
  const maxQueuedBytes = options.maxQueuedBytes ?? 256 * 1024 * 1024;
  // npm `ws` sockets (all of ours) can pause reading: past 16 MiB unprocessed the socket stops
  // reading and TCP pushes back on the peer, instead of buffering or disconnecting.
  const pausable = socket as unknown as { pause?: () => void; resume?: () => void };
  const canPause = typeof pausable.pause === "function";
  const pauseAtBytes = 16 * 1024 * 1024;
  let paused = false;
  let queuedBytes = 0;
  let pendingSendBytes = 0;
  /** The last send still waiting for the buffer to drain, if any. */
  let waitingSend: Promise<void> | null = null;
  const overBudget = (reason: string) => {
    log.warn(`${options.label}: ${reason}; disconnecting`);
    inbound.close();
    try {
      socket.close(1008, reason.slice(0, 120));
    } catch {
      // already closing
    }
  };
  const closed = Promise.withResolvers<void>();
  let closedOnce = false;
  socket.binaryType = "arraybuffer";
  const onMessage = (data: unknown, binary: boolean) => {
    const item = !binary
      ? (typeof data === "string" ? data : String(data))
      : new Uint8Array(data as ArrayBuffer);
    queuedBytes += sizeOf(item);
    budgetUsed += sizeOf(item);
    if (budgetUsed > MEMORY_BUDGET_BYTES) {
      overBudget("the server's memory budget for queued messages is used up");
      return;
    }
    if (canPause && !paused && queuedBytes > pauseAtBytes) {
      paused = true;
      pausable.pause!();
    }
    if (queuedBytes > maxQueuedBytes) {
      log.warn(`${options.label}: peer sent ${queuedBytes} unprocessed bytes; disconnecting`);
      inbound.close();
      socket.close(1008, "sending faster than the server processes");
      return;
    }
    inbound.push(item);
  };
  // npm `ws` sockets (all of ours) are listened to directly: their DOM wrapper builds an event
  // object per message on the hot path.
  const ws = socket as unknown as { on?: (event: string, f: (...args: never[]) => void) => void };
  if (typeof ws.on === "function") {
    ws.on("message", (data: unknown, binary: boolean) => onMessage(data, binary));
  } else {
    socket.addEventListener("message", (event) => {
      onMessage(event.data, typeof event.data !== "string");
    });
  }
  let closeInfo: { code: number; reason: string } | undefined;
  const onClose = () => {
    if (!closedOnce) {
      closedOnce = true;
      // What is still queued is dropped with the connection: give its budget back.
      budgetUsed -= queuedBytes + pendingSendBytes;
      queuedBytes = 0;
      pendingSendBytes = 0;
    }
    inbound.close();
    closed.resolve();
  };
  socket.addEventListener("close", (event: CloseEvent) => {
    closeInfo ??= { code: event.code, reason: event.reason };
    onClose();
  });
  socket.addEventListener("error", onClose);
  if (socket.readyState === WebSocket.CLOSED) onClose();

  const sendWhenDrained = async (text: string) => {
    if (
      waitingSend !== null ||
      (socket.readyState === WebSocket.OPEN && socket.bufferedAmount > highWaterMark)
    ) {
      // Waiting messages count against the budget: a peer that never reads while the server
      // produces (process output to many stalled clients) is disconnected, not buffered.
      const size = text.length;
      pendingSendBytes += size;
      budgetUsed += size;
      if (pendingSendBytes > maxQueuedBytes || budgetUsed > MEMORY_BUDGET_BYTES) {
        overBudget("peer is not reading its messages (send queue over its budget)");
      }
      // Behind every send already waiting: messages leave in the order of the calls, also for
      // callers that do not await one send before the next.
      const ahead = waitingSend;
      const turn = (async () => {
        await ahead;
        while (socket.readyState === WebSocket.OPEN && socket.bufferedAmount > highWaterMark) {
          await delay(1);
        }
      })();
      waitingSend = turn;
      try {
        await turn;
      } finally {
        if (waitingSend === turn) waitingSend = null;
        if (!closedOnce) {
          pendingSendBytes -= size;
          budgetUsed -= size;
        }
      }
    }
    if (socket.readyState !== WebSocket.OPEN) throw new Error("websocket is closed");
    socket.send(text);
  };

  return {
    label: options.label,
    receive(): AsyncIterable<Inbound> {
      return inbound;
    },
    send(text: string) {
      // Nearly every send finds room and nothing waiting ahead of it: no async function (and
      // its promise) on that path.
      if (
        waitingSend === null && socket.readyState === WebSocket.OPEN &&
        socket.bufferedAmount <= highWaterMark
      ) {
        try {
          socket.send(text);
        } catch (error) {
          return Promise.reject(error);
        }
        return SENT;
      }
      return sendWhenDrained(text);
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
