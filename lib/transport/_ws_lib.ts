/**
 * The one place that imports npm `ws`, typed with the small surface we use. `ws` replaces Deno's
 * websocket because Deno applies its size limit per frame, so a message split into continuation
 * frames was accepted at any size; `ws`'s `maxPayload` counts the reassembled message.
 * @module
 */
// deno-lint-ignore-file no-explicit-any
// First: `ws` reads the masking hooks this installs when it loads.
import "./_ws_mask.ts";
import { WebSocket as WsWebSocket, WebSocketServer as WsWebSocketServer } from "ws";

/** What we use of a `ws` socket, beyond the DOM `WebSocket` surface it also offers. */
export interface WsSocket {
  readonly readyState: number;
  readonly bufferedAmount: number;
  /** Whether `pause()` stopped reading the socket. */
  readonly isPaused: boolean;
  binaryType: string;
  /** `written` runs once the frame has been handed to the network (or failed). */
  send(data: string | Uint8Array, written?: (error?: Error) => void): void;
  close(code?: number, reason?: string): void;
  ping(): void;
  terminate(): void;
  pause(): void;
  resume(): void;
  on(event: string, listener: (...args: any[]) => void): void;
  off(event: string, listener: (...args: any[]) => void): void;
  emit(event: string, ...args: unknown[]): boolean;
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

/** `ws` 8.x internals the fast path (`_ws_fast_path.ts`) relies on; deno.lock pins the version. */
interface WsPrivate {
  _receiver: {
    _state: number;
    _bufferedBytes: number;
    _fragmented: number;
    _errored: boolean;
    _loop: boolean;
    writableLength: number;
  };
  _sender: { _state: number; _queue: unknown[] };
}

/** What the fast path may ask of a `ws` socket. */
export interface WsInternals {
  /** The parser holds no partial frame or message and is not mid-loop. */
  receiverIdle(): boolean;
  /** The framer has nothing queued (it queues only while compressing, which we never do). */
  senderIdle(): boolean;
  /** Delivers a message exactly as the parser does once it has one. */
  emitMessage(data: unknown, binary: boolean): void;
}

/**
 * The parts of `ws`'s private state the fast path needs, behind one seam.
 *
 * @example
 * ```ts
 * declare const socket: WsSocket;
 * if (wsInternals(socket).receiverIdle()) console.log("no partial frame buffered");
 * ```
 */
export function wsInternals(socket: WsSocket): WsInternals {
  const { _receiver: receiver, _sender: sender } = socket as unknown as WsPrivate;
  return {
    receiverIdle: () =>
      receiver._state === 0 && receiver._bufferedBytes === 0 && receiver._fragmented === 0 &&
      !receiver._errored && !receiver._loop && receiver.writableLength === 0,
    senderIdle: () => sender._state === 0 && sender._queue.length === 0,
    // What `ws`'s receiver listener does with a parsed message, without the hop through it.
    emitMessage: (data, binary) => {
      socket.emit("message", data, binary);
    },
  };
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
