/**
 * The HTTP listener of `serve`: `GET /readyz`, and websocket upgrades on any other path, refusing
 * browser origins and (when a token is configured) unauthenticated peers.
 * @module
 */
import { timingSafeEqual } from "node:crypto";
import { websocketTransport } from "../transport/websocket.ts";
import { log } from "../util/log.ts";
import type { ExecServerCore } from "./core.ts";

/** Options of {@link serveWebSocket}. */
export interface WebSocketServerOptions {
  hostname: string;
  port: number;
  /** Bearer token required on upgrades; none = no auth. */
  token?: string;
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

function tokenMatches(expected: string, header: string | null): "ok" | "missing" | "invalid" {
  if (header === null) return "missing";
  const match = /^Bearer\s+(.+)$/i.exec(header.trim());
  if (!match) return "invalid";
  const given = new TextEncoder().encode(match[1].trim());
  const wanted = new TextEncoder().encode(expected);
  return given.length === wanted.length && timingSafeEqual(given, wanted) ? "ok" : "invalid";
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
  }, (request, info) => {
    const url = new URL(request.url);
    if (url.pathname === "/readyz" && request.method === "GET") return new Response(null);
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return new Response("expected a websocket upgrade (or GET /readyz)\n", { status: 426 });
    }
    if (request.headers.has("origin")) {
      return new Response("browser origins may not connect to an exec-server\n", { status: 403 });
    }
    if (options.token !== undefined) {
      const verdict = tokenMatches(options.token, request.headers.get("authorization"));
      if (verdict !== "ok") {
        return new Response(`${verdict} websocket bearer token\n`, { status: 401 });
      }
    }
    // remoteAddr is unreadable once the request has been upgraded.
    const peer = info.remoteAddr as Deno.NetAddr;
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
