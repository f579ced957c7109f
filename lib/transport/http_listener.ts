/**
 * A small HTTP/1.1 listener for `serve` and `rendezvous`: one request per connection (answered
 * with `Connection: close`) or one websocket upgrade. It exists because `Deno.serve` keeps a
 * silent connection forever, has no connection cap and exits on an accept error (EMFILE), and
 * `Deno.upgradeWebSocket` limits frames, not messages. Here every connection has a deadline for
 * its request head and body, the number of connections (and of those not yet answered or
 * upgraded) is capped, accept errors are logged and survived, and websockets come from npm `ws`
 * with the message limit applied to the reassembled message.
 * @module
 */
import { Buffer } from "node:buffer";
import { log } from "../util/log.ts";
import { MAX_MESSAGE_BYTES } from "./types.ts";
import { wsServer, type WsSocket } from "./_ws_lib.ts";
import { ConnStream } from "./_conn_stream.ts";
import { installServerFastPath } from "./_ws_fast_path.ts";
import { defaultMaxConnections } from "../util/fd_limit.ts";

/** Defaults of {@link HttpListenerOptions}, named in the README's "Limits" table. */
export const HTTP_LIMITS = {
  /** Request line + headers, and then the body, must each arrive within this time. */
  headDeadlineMs: 10_000,
  /** Largest request head (request line + headers). */
  maxHeadBytes: 16 * 1024,
  /** Largest request body (`register` / `connect` JSON). */
  maxBodyBytes: 1024 * 1024,
  /**
   * Open connections of every kind (websockets included): by default half the open-file limit
   * left after 256 reserved descriptors (384 at `ulimit -n 1024`, 9,872 at 20,000), between 64 and
   * 65,536; `serve`/`rendezvous --max-connections N` overrides it.
   */
  maxConnections: defaultMaxConnections(),
  /** Connections that have not been answered or upgraded yet (not yet authenticated). */
  maxPendingConnections: 64,
} as const;

/** Options of {@link serveHttp}; limits default to {@link HTTP_LIMITS}. */
export interface HttpListenerOptions {
  hostname: string;
  port: number;
  /** Names the listener in log lines, e.g. `exec-server` or `rendezvous`. */
  label: string;
  headDeadlineMs?: number;
  maxHeadBytes?: number;
  maxBodyBytes?: number;
  maxConnections?: number;
  maxPendingConnections?: number;
  /** Largest reassembled websocket message (default 64 MiB); a bigger one closes with 1009. */
  maxMessageBytes?: number;
  /** Seconds between pings on a websocket; a peer that misses a pong is dropped (default 30). */
  pingIntervalSeconds?: number;
}

/** What a handler learns about the peer. */
export interface HttpRequestInfo {
  remoteAddr: Deno.NetAddr;
}

/** Answers one request; return {@link acceptWebSocket}'s response to upgrade. */
export type HttpHandler = (
  request: Request,
  info: HttpRequestInfo,
) => Response | Promise<Response>;

/** A running listener. */
export interface HttpListener {
  readonly addr: Deno.NetAddr;
  /** Counters since start (for tests and logs). */
  stats(): {
    open: number;
    pending: number;
    refused: number;
    timedOut: number;
    acceptErrors: number;
  };
  /** Stops accepting, closes websockets (1001) and drops every other connection. */
  shutdown(): Promise<void>;
  readonly finished: Promise<void>;
}

const upgrades = new WeakMap<Response, (socket: WebSocket) => void>();

/**
 * The response a handler returns to accept a websocket upgrade; `onSocket` receives the open
 * socket (npm `ws`, used through its DOM-compatible `WebSocket` surface).
 *
 * @example
 * ```ts
 * const handler: HttpHandler = () => acceptWebSocket((socket) => socket.send("hello"));
 * ```
 */
export function acceptWebSocket(onSocket: (socket: WebSocket) => void): Response {
  const response = new Response(null, { status: 200 });
  upgrades.set(response, onSocket);
  return response;
}

const REASONS: Record<number, string> = {
  200: "OK",
  204: "No Content",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  409: "Conflict",
  411: "Length Required",
  413: "Content Too Large",
  426: "Upgrade Required",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

const REQUEST_LINE = /^([A-Z]{1,16}) (\/\S*) HTTP\/1\.[01]$/;
const HEADER_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*(.*?)[ \t]*$/;
const HEAD_END = Buffer.from("\r\n\r\n");

interface ParsedHead {
  method: string;
  target: string;
  headers: Headers;
  /** Lower-cased names, as `ws` reads them. */
  raw: Record<string, string>;
}

function parseHead(text: string): ParsedHead | string {
  const lines = text.split("\r\n");
  const line = REQUEST_LINE.exec(lines[0]);
  if (!line) return "malformed request line";
  const headers = new Headers();
  const raw: Record<string, string> = {};
  for (const header of lines.slice(1)) {
    const match = HEADER_LINE.exec(header);
    if (!match) return "malformed header line";
    const name = match[1].toLowerCase();
    if (name === "content-length" && name in raw) return "repeated content-length";
    try {
      headers.append(name, match[2]);
    } catch {
      return `invalid value of header ${name}`;
    }
    raw[name] = name in raw ? `${raw[name]}, ${match[2]}` : match[2];
  }
  return { method: line[1], target: line[2], headers, raw };
}

function plainResponse(status: number, text: string): Uint8Array {
  const body = Buffer.from(text);
  return Buffer.concat([
    Buffer.from(
      `HTTP/1.1 ${status} ${REASONS[status] ?? "Status"}\r\nContent-Type: text/plain\r\n` +
        `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n`,
    ),
    body,
  ]);
}

/**
 * Listens on `hostname:port`; resolves once bound.
 *
 * @example
 * ```ts
 * const listener = await serveHttp(
 *   { hostname: "127.0.0.1", port: 0, label: "demo" },
 *   () => new Response("ok\n"),
 * );
 * await listener.shutdown();
 * ```
 */
export function serveHttp(
  options: HttpListenerOptions,
  handler: HttpHandler,
): Promise<HttpListener> {
  const headDeadlineMs = options.headDeadlineMs ?? HTTP_LIMITS.headDeadlineMs;
  const maxHeadBytes = options.maxHeadBytes ?? HTTP_LIMITS.maxHeadBytes;
  const maxBodyBytes = options.maxBodyBytes ?? HTTP_LIMITS.maxBodyBytes;
  const maxConnections = options.maxConnections ?? HTTP_LIMITS.maxConnections;
  const maxPending = options.maxPendingConnections ?? HTTP_LIMITS.maxPendingConnections;
  const pingMs = (options.pingIntervalSeconds ?? 30) * 1000;
  const maxMessageBytes = options.maxMessageBytes ?? MAX_MESSAGE_BYTES;
  const ws = wsServer(maxMessageBytes);
  const counters = { open: 0, pending: 0, refused: 0, timedOut: 0, acceptErrors: 0 };
  const conns = new Set<Deno.Conn>();
  const upgraded = new Set<WsSocket>();
  let lastAcceptWarning = 0;

  function closeConn(conn: Deno.Conn): void {
    try {
      conn.close();
    } catch {
      // already closed
    }
  }

  async function writeAndClose(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
    // A peer that never reads must not hold the connection: the write gets a deadline too.
    const timer = setTimeout(() => closeConn(conn), headDeadlineMs);
    try {
      let offset = 0;
      while (offset < bytes.length) offset += await conn.write(bytes.subarray(offset));
    } catch {
      // peer gone
    } finally {
      clearTimeout(timer);
      closeConn(conn);
    }
  }

  /** Reads the head and (for non-upgrades) the body; `undefined` when the connection died. */
  async function readRequest(
    conn: Deno.Conn,
  ): Promise<{ head: ParsedHead; rest: Buffer } | { status: number; text: string } | undefined> {
    let buffered: Buffer = Buffer.alloc(0);
    let head: ParsedHead | undefined;
    let bodyLength = 0;
    const chunk = new Uint8Array(16 * 1024);
    for (;;) {
      if (head) {
        if (head.raw.upgrade !== undefined || buffered.length >= bodyLength) {
          return { head, rest: buffered };
        }
      }
      let n: number | null;
      try {
        n = await conn.read(chunk);
      } catch {
        return undefined;
      }
      if (n === null) return undefined;
      buffered = Buffer.concat([buffered, chunk.subarray(0, n)]);
      if (head) continue;
      const end = buffered.indexOf(HEAD_END);
      if (end < 0 && buffered.length <= maxHeadBytes) continue;
      if (end < 0 || end > maxHeadBytes) return { status: 431, text: "request head too large\n" };
      const parsed = parseHead(buffered.subarray(0, end).toString("latin1"));
      if (typeof parsed === "string") return { status: 400, text: `${parsed}\n` };
      head = parsed;
      buffered = buffered.subarray(end + 4);
      if (head.raw["transfer-encoding"] !== undefined) {
        return { status: 411, text: "send the body with a Content-Length\n" };
      }
      const length = head.raw["content-length"];
      if (length !== undefined) {
        if (!/^\d{1,12}$/.test(length)) return { status: 400, text: "invalid content-length\n" };
        bodyLength = Number(length);
        if (bodyLength > maxBodyBytes) {
          return { status: 413, text: `request bodies are limited to ${maxBodyBytes} bytes\n` };
        }
      }
    }
  }

  async function serveConnection(conn: Deno.Conn): Promise<void> {
    if (counters.open >= maxConnections || counters.pending >= maxPending) {
      counters.refused++;
      await writeAndClose(conn, plainResponse(503, "too many connections; retry later\n"));
      return;
    }
    counters.open++;
    counters.pending++;
    conns.add(conn);
    let handedOff = false;
    // One deadline for the request line, headers and body together.
    const timer = setTimeout(() => {
      counters.timedOut++;
      closeConn(conn);
    }, headDeadlineMs);
    try {
      const remoteAddr = conn.remoteAddr as Deno.NetAddr;
      const read = await readRequest(conn);
      clearTimeout(timer);
      if (read === undefined) return;
      if ("status" in read) return await writeAndClose(conn, plainResponse(read.status, read.text));
      const { head, rest } = read;
      const isUpgrade = head.raw.upgrade !== undefined;
      let request: Request;
      try {
        request = new Request(`http://${head.raw.host || "localhost"}${head.target}`, {
          method: head.method,
          headers: head.headers,
          body: !isUpgrade && rest.length > 0 && head.method !== "GET" && head.method !== "HEAD"
            ? new Uint8Array(rest.subarray(0, Number(head.raw["content-length"] ?? 0)))
            : undefined,
        });
      } catch {
        return await writeAndClose(conn, plainResponse(400, "malformed request target or host\n"));
      }
      let response: Response;
      try {
        response = await handler(request, { remoteAddr });
      } catch (error) {
        log.error(`${options.label}: handler failed: ${String((error as Error).stack)}`);
        return await writeAndClose(conn, plainResponse(500, "internal error\n"));
      }
      const onSocket = upgrades.get(response);
      if (onSocket) {
        handedOff = true;
        counters.pending--;
        const stream = new ConnStream(conn);
        stream.on("error", () => {});
        stream.on("close", () => {
          counters.open--;
          conns.delete(conn);
        });
        ws.handleUpgrade(
          { method: head.method, url: head.target, headers: head.raw },
          stream,
          isUpgrade ? rest : Buffer.alloc(0),
          (accepted) => {
            // `ws` throws an 'error' event nobody listens to (e.g. a message over the limit).
            accepted.on("error", () => {});
            installServerFastPath(accepted, stream, maxMessageBytes);
            upgraded.add(accepted);
            keepAlive(accepted);
            accepted.on("close", () => upgraded.delete(accepted));
            try {
              onSocket(accepted as unknown as WebSocket);
            } catch (error) {
              log.error(`${options.label}: websocket setup failed: ${(error as Error).message}`);
              accepted.terminate();
            }
          },
        );
        return;
      }
      const bytes = head.method === "HEAD"
        ? new Uint8Array(0)
        : new Uint8Array(await response.arrayBuffer());
      let text = `HTTP/1.1 ${response.status} ${REASONS[response.status] ?? "Status"}\r\n`;
      response.headers.forEach((value, name) => {
        if (name !== "content-length" && name !== "connection") text += `${name}: ${value}\r\n`;
      });
      text += `Content-Length: ${bytes.length}\r\nConnection: close\r\n\r\n`;
      await writeAndClose(conn, Buffer.concat([Buffer.from(text, "latin1"), bytes]));
    } finally {
      clearTimeout(timer);
      if (!handedOff) {
        counters.pending--;
        counters.open--;
        conns.delete(conn);
        closeConn(conn);
      }
    }
  }

  function keepAlive(socket: WsSocket): void {
    let alive = true;
    socket.on("pong", () => alive = true);
    socket.on("message", () => alive = true);
    const timer = setInterval(() => {
      // A socket we stopped reading (backpressure: the rendezvous pauses an executor while a
      // harness is behind) cannot show us its Pongs: it is judged only while it is read, or a
      // pause of one ping interval would cut a live peer. Whoever paused it bounds the pause.
      if (socket.isPaused) {
        alive = true;
        return;
      }
      if (!alive) {
        socket.terminate();
        return;
      }
      alive = false;
      try {
        socket.ping();
      } catch {
        // closing
      }
    }, pingMs);
    socket.on("close", () => clearInterval(timer));
  }

  const listener = Deno.listen({ hostname: options.hostname, port: options.port });
  let stopping = false;
  const finished = (async () => {
    let backoffMs = 0;
    for (;;) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
        backoffMs = 0;
      } catch (error) {
        if (stopping || error instanceof Deno.errors.BadResource) return;
        // EMFILE/ENFILE and friends: wait (5 ms doubling to 1 s) and accept again once
        // descriptors are free; say so at most once a second.
        counters.acceptErrors++;
        const now = Date.now();
        if (now - lastAcceptWarning > 1000) {
          lastAcceptWarning = now;
          log.warn(`${options.label}: accepting a connection failed (${error}); still serving`);
        }
        backoffMs = Math.min(Math.max(5, backoffMs * 2), 1000);
        await new Promise((resolve) => setTimeout(resolve, backoffMs));
        continue;
      }
      serveConnection(conn).catch((error) => {
        log.error(`${options.label}: connection failed: ${String((error as Error).stack)}`);
      });
    }
  })();
  // A Promise (bound at once): callers need not change if binding ever becomes asynchronous.
  return Promise.resolve({
    addr: listener.addr as Deno.NetAddr,
    stats: () => ({ ...counters }),
    finished,
    async shutdown() {
      stopping = true;
      try {
        listener.close();
      } catch {
        // already closed
      }
      for (const socket of upgraded) {
        try {
          socket.close(1001, "server shutting down");
        } catch {
          // already closing
        }
      }
      const deadline = Date.now() + 1000;
      while (upgraded.size > 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      for (const socket of upgraded) socket.terminate();
      for (const conn of conns) closeConn(conn);
      await finished;
    },
  });
}
