/**
 * The HTTP listener of `serve`: `GET /readyz`, and websocket upgrades on any other path, refusing
 * browser origins and (when a token is configured) unauthenticated peers.
 * @module
 */
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
 * const server = await serveWebSocket(core, { hostname: "127.0.0.1", port: 0 });
 * console.log(`ws://${server.addr.hostname}:${server.addr.port}`);
 * ```
 */
export function serveWebSocket(
  core: ExecServerCore,
  options: WebSocketServerOptions,
): Promise<WebSocketServer> {
  const listening = Promise.withResolvers<Deno.NetAddr>();
  const sockets = new Set<WebSocket>();
  const server = Deno.serve({
    hostname: options.hostname,
    port: options.port,
    onListen: (addr) => listening.resolve(addr as Deno.NetAddr),
    onError: (err) => {
      log.error(`http handler failed: ${String((err as Error).stack)}`);
      return new Response("internal error", { status: 500 });
    },
  }, async (request, info) => {
    // remoteAddr is unreadable once the request has been upgraded.
    const peer = info.remoteAddr as Deno.NetAddr;
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
        return new Response(refused, {
          status: 401,
          headers: { "content-type": "text/plain; charset=utf-8" },
        });
      }
    }
    const { socket, response } = Deno.upgradeWebSocket(request, {
      idleTimeout: options.pingIntervalSeconds ?? 30,
    });
    sockets.add(socket);
    socket.addEventListener("open", () => {
      core.serve(websocketTransport(socket, {
        label: `exec-server websocket ${peer.hostname}:${peer.port}`,
      })).finally(() => sockets.delete(socket));
    });
    socket.addEventListener("close", () => sockets.delete(socket));
    return response;
  });
  return listening.promise.then((addr) => ({
    addr,
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
