/**
 * The physical pipe under the relay: an ordered or unordered channel of binary messages
 * (production: a websocket to the rendezvous; tests: a lossy in-memory network).
 * @module
 */

/**
 * Callbacks a link delivers to; set once by the relay endpoint that owns the link.
 *
 * @example
 * ```ts
 * import type { RelayLinkHandlers } from "./link.ts";
 * const handlers: RelayLinkHandlers = {
 *   onMessage(data) { console.log(typeof data === "string" ? "text" : data.length); },
 *   onClose(reason) { console.log("link closed:", reason); },
 * };
 * ```
 */
export interface RelayLinkHandlers {
  /** One received message: bytes for a binary message, a string for a text message. */
  onMessage(data: Uint8Array | string): void;
  /** The link is gone (closed by either side or failed); called at most once. */
  onClose(reason: string): void;
}

/**
 * A binary message pipe. The relay writes one frame per `send`, paces itself on
 * `bufferedAmount`, and learns about inbound messages and closure through `attach`.
 * Implement it to carry the relay over something other than a websocket.
 *
 * @example
 * ```ts
 * import type { RelayLink, RelayLinkHandlers } from "./link.ts";
 * // A link that loops every frame back to its sender.
 * let handlers: RelayLinkHandlers | undefined;
 * const loopback: RelayLink = {
 *   label: "loopback",
 *   bufferedAmount: 0,
 *   send(data) { queueMicrotask(() => handlers?.onMessage(data)); },
 *   attach(next) { handlers = next; },
 *   close() { handlers?.onClose("closed"); },
 * };
 * ```
 */
export interface RelayLink {
  /** Names the link in log lines, e.g. `rendezvous ws://127.0.0.1:9000/relay`. */
  readonly label: string;
  /** Bytes accepted by `send` but not yet handed to the network. */
  readonly bufferedAmount: number;
  /** Queues one binary message; never blocks (the caller paces on `bufferedAmount`). */
  send(data: Uint8Array): void;
  /** Registers the receiver; messages that arrive before it are kept until then. */
  attach(handlers: RelayLinkHandlers): void;
  /** Closes the link; idempotent. `onClose` still fires. */
  close(): void;
  /**
   * Stops (`false`) or restarts (`true`) reading the network, so a receiver that falls behind
   * holds the sender back through TCP instead of buffering without bound. Optional: a link
   * that cannot pause leaves it out.
   */
  setReading?(reading: boolean): void;
  /**
   * Resolves once `bufferedAmount` is at most `bytes` (or the link closed). Optional: without
   * it the relay looks at `bufferedAmount` again on a timer, and a reply queued behind a full
   * link waits for that timer after the link has drained.
   */
  whenBelow?(bytes: number): Promise<void>;
}

/**
 * Adapts a WebSocket (browser-style API: Deno's `WebSocket` or the socket from
 * `Deno.upgradeWebSocket`) to a {@linkcode RelayLink}. The socket may still be connecting.
 *
 * @example
 * ```ts
 * import { websocketLink } from "./link.ts";
 * const ws = new WebSocket("ws://127.0.0.1:9000/relay?role=harness");
 * const link = websocketLink(ws, "rendezvous");
 * link.close();
 * ```
 */
export function websocketLink(socket: WebSocket, label = `websocket ${socket.url}`): RelayLink {
  socket.binaryType = "arraybuffer";
  let handlers: RelayLinkHandlers | undefined;
  const early: (Uint8Array | string)[] = [];
  let closedReason: string | undefined;
  // Frames handed to `send` while the socket is still connecting; the relay must not lose them.
  let backlog: Uint8Array[] = [];
  let backlogBytes = 0;

  function closeWith(reason: string): void {
    if (closedReason !== undefined) return;
    closedReason = reason;
    backlog = [];
    backlogBytes = 0;
    handlers?.onClose(reason);
  }

  socket.addEventListener("open", () => {
    for (const frame of backlog) socket.send(frame);
    backlog = [];
    backlogBytes = 0;
  });
  socket.addEventListener("message", (event: MessageEvent) => {
    const data = typeof event.data === "string"
      ? event.data
      : new Uint8Array(event.data as ArrayBuffer);
    if (handlers) handlers.onMessage(data);
    else early.push(data);
  });
  socket.addEventListener("close", (event: CloseEvent) => {
    closeWith(event.reason ? `closed (${event.code} ${event.reason})` : `closed (${event.code})`);
  });
  socket.addEventListener("error", (event) => {
    const message = (event as ErrorEvent).message;
    closeWith(message ? `error: ${message}` : "error");
  });

  return {
    label,
    get bufferedAmount() {
      return socket.bufferedAmount + backlogBytes;
    },
    send(data: Uint8Array): void {
      if (closedReason !== undefined) return;
      if (socket.readyState === WebSocket.CONNECTING) {
        backlog.push(data);
        backlogBytes += data.length;
        return;
      }
      if (socket.readyState !== WebSocket.OPEN) return;
      socket.send(data);
    },
    attach(next: RelayLinkHandlers): void {
      handlers = next;
      for (const data of early.splice(0)) next.onMessage(data);
      if (closedReason !== undefined) next.onClose(closedReason);
    },
    close(): void {
      if (socket.readyState === WebSocket.CONNECTING || socket.readyState === WebSocket.OPEN) {
        socket.close(1000, "relay closed");
      }
      closeWith("closed locally");
    },
  };
}
