/**
 * A client websocket {@linkcode RelayLink} that keeps itself alive the way upstream Noise
 * endpoints do: an empty Ping 30 s after connect (and 30 s after each Pong), a drop when no
 * Pong comes within 60 s of a Ping, 256 KiB message limit, and the HTTP status of a refused
 * upgrade. Deno's `WebSocket` cannot send Pings, so this uses npm `ws` (through the transport
 * layer's one `ws` import).
 * @module
 */
import { Buffer } from "node:buffer";
import { wsDial } from "../transport/_ws_lib.ts";
import type { RelayLink, RelayLinkHandlers } from "./link.ts";

/**
 * Options of {@linkcode connectWsLink}.
 * @example
 * ```ts
 * import type { WsLinkOptions } from "./ws_link.ts";
 * const options: WsLinkOptions = { headers: { "x-request-id": "req_1" }, pingIntervalMs: 30_000 };
 * ```
 */
export interface WsLinkOptions {
  /** Extra upgrade headers. */
  headers?: Record<string, string>;
  /** Names the link in log lines (default: the URL without its query, which is a secret). */
  label?: string;
  /** Idle time before a Ping. Default 30 s. */
  pingIntervalMs?: number;
  /** How long a Ping may go unanswered. Default 60 s. */
  pongTimeoutMs?: number;
  /** Largest inbound message. Default 256 KiB. */
  maxMessageBytes?: number;
  /** Give up opening after this long. Default 10 s. */
  connectTimeoutMs?: number;
  /** Cancels the attempt. */
  signal?: AbortSignal;
}

/**
 * How a connection attempt ended.
 * @example
 * ```ts
 * import type { WsLinkOutcome } from "./ws_link.ts";
 * function describe(o: WsLinkOutcome): string { return o.kind === "refused" ? `HTTP ${o.status}` : o.kind; }
 * ```
 */
export type WsLinkOutcome =
  | { kind: "open"; link: RelayLink }
  | { kind: "refused"; status: number }
  | { kind: "failed"; reason: string };

/**
 * Opens a websocket to `url` and resolves once it is open, refused (HTTP status) or failed.
 *
 * @example
 * ```ts
 * import { connectWsLink } from "./ws_link.ts";
 * const outcome = await connectWsLink("ws://127.0.0.1:9000/relay/env-1?role=harness&sig=x");
 * if (outcome.kind === "open") outcome.link.close();
 * ```
 */
export function connectWsLink(url: string, options: WsLinkOptions = {}): Promise<WsLinkOutcome> {
  const label = options.label ?? `websocket ${url.split("?")[0]}`;
  const pingIntervalMs = options.pingIntervalMs ?? 30_000;
  const pongTimeoutMs = options.pongTimeoutMs ?? 60_000;
  const OPEN = 1;
  const CONNECTING = 0;
  const socket = wsDial(url, {
    headers: options.headers,
    maxPayload: options.maxMessageBytes ?? 256 * 1024,
  });
  const connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
  const connectTimer = setTimeout(() => {
    socket.terminate();
    settle({ kind: "failed", reason: `no answer within ${connectTimeoutMs} ms` });
  }, connectTimeoutMs);
  let handlers: RelayLinkHandlers | undefined;
  const early: (Uint8Array | string)[] = [];
  let closedReason: string | undefined;
  let pingTimer: ReturnType<typeof setTimeout> | undefined;
  let pongTimer: ReturnType<typeof setTimeout> | undefined;
  const { promise, resolve } = Promise.withResolvers<WsLinkOutcome>();
  let settled = false;
  const settle = (outcome: WsLinkOutcome) => {
    if (settled) return;
    settled = true;
    clearTimeout(connectTimer);
    options.signal?.removeEventListener("abort", onAbort);
    resolve(outcome);
  };
  const onAbort = () => {
    socket.terminate();
    settle({ kind: "failed", reason: "stopped" });
  };
  options.signal?.addEventListener("abort", onAbort, { once: true });
  if (options.signal?.aborted) onAbort();

  // Every stream writing on this link may wait here (the relay endpoint, each E5 stream).
  let drainWaiters: { bytes: number; resolve: () => void }[] = [];
  const afterWrite = () => {
    if (drainWaiters.length === 0) return;
    const buffered = socket.bufferedAmount;
    const ready = drainWaiters.filter((waiter) => buffered <= waiter.bytes);
    if (ready.length === 0) return;
    drainWaiters = drainWaiters.filter((waiter) => buffered > waiter.bytes);
    for (const waiter of ready) waiter.resolve();
  };
  const releaseWaiters = () => {
    const waiters = drainWaiters;
    drainWaiters = [];
    for (const waiter of waiters) waiter.resolve();
  };
  function closeWith(reason: string): void {
    if (closedReason !== undefined) return;
    closedReason = reason;
    releaseWaiters();
    clearTimeout(pingTimer);
    clearTimeout(pongTimer);
    handlers?.onClose(reason);
  }
  function schedulePing(): void {
    clearTimeout(pingTimer);
    pingTimer = setTimeout(() => {
      if (socket.readyState !== OPEN) return;
      socket.ping();
      pongTimer = setTimeout(() => {
        // A link we stopped reading (setReading) cannot show us its Pong: it is judged only
        // while read, as the listener's ping check does; whoever paused it bounds the pause.
        if (socket.isPaused) {
          schedulePing();
          return;
        }
        // As upstream: a TCP drop, no close frame (the peer may be wedged).
        closeWith(`pong_timeout (no Pong within ${pongTimeoutMs} ms)`);
        socket.terminate();
      }, pongTimeoutMs);
    }, pingIntervalMs);
  }

  const link: RelayLink = {
    label,
    get bufferedAmount() {
      return socket.bufferedAmount;
    },
    send(data: Uint8Array): void {
      if (closedReason !== undefined || socket.readyState !== OPEN) return;
      socket.send(data, afterWrite);
    },
    whenBelow(bytes: number): Promise<void> {
      if (closedReason !== undefined || socket.bufferedAmount <= bytes) return Promise.resolve();
      const { promise, resolve } = Promise.withResolvers<void>();
      drainWaiters.push({ bytes, resolve });
      return promise;
    },
    attach(next: RelayLinkHandlers): void {
      handlers = next;
      for (const data of early.splice(0)) next.onMessage(data);
      if (closedReason !== undefined) next.onClose(closedReason);
    },
    setReading(reading: boolean): void {
      if (reading) socket.resume();
      else socket.pause();
    },
    close(): void {
      if (socket.readyState === OPEN || socket.readyState === CONNECTING) {
        socket.close(1000, "relay closed");
        // A peer that never answers the close frame must not hold the socket open.
        setTimeout(() => socket.terminate(), 2000).unref?.();
      }
      closeWith("closed locally");
    },
  };

  socket.on("open", () => {
    schedulePing();
    settle({ kind: "open", link });
  });
  socket.on(
    "unexpected-response",
    (_request: unknown, response: { statusCode?: number; resume(): void }) => {
      const status = response.statusCode ?? 0;
      response.resume();
      socket.terminate();
      settle({ kind: "refused", status });
    },
  );
  socket.on("pong", () => {
    clearTimeout(pongTimer);
    pongTimer = undefined;
    schedulePing();
  });
  socket.on("message", (data: Uint8Array | ArrayBuffer | Uint8Array[], isBinary: boolean) => {
    const bytes = Array.isArray(data)
      ? new Uint8Array(Buffer.concat(data))
      : data instanceof ArrayBuffer
      ? new Uint8Array(data)
      : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const item = isBinary ? bytes : new TextDecoder().decode(bytes);
    if (handlers) handlers.onMessage(item);
    else early.push(item);
  });
  socket.on("close", (code: number, reason: Uint8Array) => {
    const text = new TextDecoder().decode(reason);
    closeWith(text ? `closed (${code} ${text})` : `closed (${code})`);
    settle({ kind: "failed", reason: `closed (${code})` });
  });
  socket.on("error", (error: Error) => {
    closeWith(`error: ${error.message}`);
    settle({ kind: "failed", reason: error.message });
  });
  return promise;
}
