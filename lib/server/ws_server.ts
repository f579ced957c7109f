/**
 * The HTTP listener of `serve`: `GET /readyz`, and websocket upgrades on any other path, refusing
 * browser origins and (when a token is configured) unauthenticated peers.
 * @module
 */
import { acceptWebSocket, type HttpListener, serveHttp } from "../transport/http_listener.ts";
import { websocketTransport } from "../transport/websocket.ts";
import { log } from "../util/log.ts";
import type { ExecServerCore } from "./core.ts";
import { authenticateUpgrade, type WebSocketAuthConfig } from "./ws_auth.ts";

/** Options of {@link serveWebSocket}. */
export interface WebSocketServerOptions {
  hostname: string;
  port: number;
  /** How upgrades authenticate; none = no auth. */
  auth?: WebSocketAuthConfig;
  /** Seconds between server pings on an idle connection (upstream: 30). */
  pingIntervalSeconds?: number;
  /** Deadline for a request head and body (default 10 s; see `HTTP_LIMITS`). */
  httpDeadlineMs?: number;
  /** Open connections at most (default: from the open-file limit; see `HTTP_LIMITS`). */
  maxConnections?: number;
}

/** A running listener. */
export interface WebSocketServer {
  /** The bound address. */
  readonly addr: Deno.NetAddr;
  /** Stops accepting and closes open connections. */
  shutdown(): Promise<void>;
  /** Resolves when the listener has stopped. */
  readonly finished: Promise<void>;
}

/**
 * Starts the listener; resolves once it is bound.
 *
 * @example
 * ```ts
 * import type { ExecServerCore } from "./core.ts";
 * declare const core: ExecServerCore;
 * const server = await serveWebSocket(core, { hostname: "127.0.0.1", port: 0 });
 * console.log(`ws://${server.addr.hostname}:${server.addr.port}`);
 * ```
 */
export function serveWebSocket(
  core: ExecServerCore,
  options: WebSocketServerOptions,
): Promise<WebSocketServer> {
  const sockets = new Set<WebSocket>();
  const listener = serveHttp({
    hostname: options.hostname,
    port: options.port,
    label: "exec-server",
    pingIntervalSeconds: options.pingIntervalSeconds,
    headDeadlineMs: options.httpDeadlineMs,
    maxConnections: options.maxConnections,
  }, async (request, info) => {
    const peer = info.remoteAddr;
    const url = new URL(request.url);
    if (url.pathname === "/readyz" && request.method === "GET") return new Response(null);
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return new Response("expected a websocket upgrade (or GET /readyz)\n", { status: 426 });
    }
    if (request.headers.has("origin")) {
      return new Response("browser origins may not connect to an exec-server\n", { status: 403 });
    }
    if (options.auth !== undefined) {
      const refused = await authenticateUpgrade(options.auth, request.headers.get("authorization"));
      if (refused !== null) {
        // Tells whoever runs the server why a client cannot get in (the token is not logged).
        log.warn(`refused a websocket upgrade from ${peer.hostname}:${peer.port}: ${refused}`);
        return new Response(refused, {
          status: 401,
          headers: { "content-type": "text/plain; charset=utf-8" },
        });
      }
    }
    return acceptWebSocket((socket) => {
      sockets.add(socket);
      socket.addEventListener("close", () => sockets.delete(socket));
      core.serve(websocketTransport(socket, {
        label: `exec-server websocket ${peer.hostname}:${peer.port}`,
      })).finally(() => sockets.delete(socket));
    });
  });
  return listener.then((server: HttpListener) => ({
    addr: server.addr,
    finished: server.finished,
    async shutdown() {
      for (const socket of sockets) {
        try {
          socket.close(1001, "server shutting down");
        } catch {
          // already closing
        }
      }
      await server.shutdown();
    },
  }));
}
