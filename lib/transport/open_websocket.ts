/**
 * Dialling a websocket and telling apart why it did not open: the server answered the upgrade
 * with an HTTP status (a wrong token, a wrong URL), nobody answered, or it took too long. The
 * client, the harness side of the relay and the remote executor all dial this way.
 * @module
 */
import { dialWebSocket } from "./websocket_dial.ts";

/**
 * Why {@link openWebSocket} failed: `refused` (the server answered the upgrade with HTTP
 * {@link WebSocketOpenError.status}), `unreachable` (no connection, or it closed before
 * opening), `timeout`, or `aborted` (the caller's signal).
 *
 * @example
 * ```ts
 * import type { WebSocketOpenFailure } from "./open_websocket.ts";
 * const failure: WebSocketOpenFailure = "refused";
 * ```
 */
export type WebSocketOpenFailure = "refused" | "unreachable" | "timeout" | "aborted";

/**
 * A websocket that did not open; `detail` is the runtime's own words, without its
 * `NetworkError:` prefix.
 *
 * @example
 * ```ts
 * import { openWebSocket, WebSocketOpenError } from "./open_websocket.ts";
 * try {
 *   await openWebSocket("ws://127.0.0.1:1/");
 * } catch (err) {
 *   if (err instanceof WebSocketOpenError && err.status === 401) console.error("bad token");
 * }
 * ```
 */
export class WebSocketOpenError extends Error {
  /** Stable reason. */
  readonly code: WebSocketOpenFailure;
  /** The HTTP status the upgrade was answered with (`refused` only). */
  readonly status: number | undefined;
  /** What the runtime said. */
  readonly detail: string;

  /**
   * @param code stable reason
   * @param detail the runtime's message
   * @param status the HTTP status, when the server answered one
   */
  constructor(code: WebSocketOpenFailure, detail: string, status?: number) {
    super(status === undefined ? detail : `HTTP ${status}: ${detail}`);
    this.name = "WebSocketOpenError";
    this.code = code;
    this.detail = detail;
    this.status = status;
  }
}

/**
 * The HTTP status in a websocket error text (npm `ws`: `Unexpected server response: 401`; Deno:
 * `Invalid status code: 401`), if there is one.
 *
 * @example
 * ```ts
 * import { upgradeStatus } from "./open_websocket.ts";
 * upgradeStatus("failed to connect to WebSocket: Invalid status code: 401"); // 401
 * ```
 */
export function upgradeStatus(message: string): number | undefined {
  const match = /(?:status code|server response):? (\d{3})\b/i.exec(message);
  return match ? Number(match[1]) : undefined;
}

/**
 * Options of {@link openWebSocket}.
 *
 * @example
 * ```ts
 * import type { OpenWebSocketOptions } from "./open_websocket.ts";
 * const options: OpenWebSocketOptions = { headers: { authorization: "Bearer t" }, timeoutMs: 5000 };
 * ```
 */
export interface OpenWebSocketOptions {
  /** Upgrade request headers (e.g. `authorization`). */
  headers?: HeadersInit;
  /** Gives up after this long (default 10 s). */
  timeoutMs?: number;
  /** Gives up when aborted. */
  signal?: AbortSignal;
  /**
   * Told the socket as soon as it exists, before it opens, for callers that must listen from
   * the first frame on (a relay link buffers what arrives before its stream attaches).
   */
  onSocket?: (socket: WebSocket) => void;
}

/**
 * Opens a websocket; resolves once it is open, rejects with {@link WebSocketOpenError} (the
 * socket is then closed).
 *
 * @example
 * ```ts
 * import { openWebSocket } from "./open_websocket.ts";
 * const socket = await openWebSocket("ws://127.0.0.1:4000", { timeoutMs: 5000 });
 * socket.close();
 * ```
 */
export async function openWebSocket(
  url: string,
  options: OpenWebSocketOptions = {},
): Promise<WebSocket> {
  const socket = dialWebSocket(url, {
    headers: options.headers === undefined
      ? undefined
      : Object.fromEntries(new Headers(options.headers).entries()),
  });
  options.onSocket?.(socket);
  const timeoutMs = options.timeoutMs ?? 10_000;
  const { promise, resolve, reject } = Promise.withResolvers<void>();
  const timer = setTimeout(
    () => reject(new WebSocketOpenError("timeout", `no answer within ${timeoutMs} ms`)),
    timeoutMs,
  );
  const onAbort = () => reject(new WebSocketOpenError("aborted", "stopped"));
  if (options.signal?.aborted) onAbort();
  options.signal?.addEventListener("abort", onAbort, { once: true });
  const onOpen = () => resolve();
  const onError = (event: Event) => {
    const detail = ((event as ErrorEvent).message || "websocket error")
      .replace(/^NetworkError: /, "");
    const status = upgradeStatus(detail);
    reject(
      status === undefined
        ? new WebSocketOpenError("unreachable", detail)
        : new WebSocketOpenError("refused", detail, status),
    );
  };
  const onClose = (event: CloseEvent) =>
    reject(new WebSocketOpenError("unreachable", `closed during connect (code ${event.code})`));
  socket.addEventListener("open", onOpen);
  socket.addEventListener("error", onError);
  socket.addEventListener("close", onClose);
  try {
    await promise;
    return socket;
  } catch (err) {
    try {
      socket.close();
    } catch {
      // never opened
    }
    throw err;
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener("abort", onAbort);
    socket.removeEventListener("open", onOpen);
    socket.removeEventListener("error", onError);
    socket.removeEventListener("close", onClose);
  }
}
