/**
 * Test infrastructure: a minimal websocket rendezvous on 127.0.0.1 (`?role=environment` for
 * the executor socket, `?role=harness` for harness sockets) that routes binary frames by
 * `stream_id`, like the real one. Not our rendezvous implementation: just enough network.
 * @module
 */
import { decodeFrame } from "../../lib/relay/mod.ts";

export interface WsRendezvous {
  /** `ws://127.0.0.1:PORT/relay` (add `?role=...`). */
  url: string;
  /** Frames forwarded executor -> harnesses. */
  readonly toHarness: { frames: number; bytes: number };
  /** Closes every socket and the server; resolves when all are gone. */
  close(): Promise<void>;
}

export function startWsRendezvous(): Promise<WsRendezvous> {
  let executor: WebSocket | undefined;
  const owners = new Map<string, WebSocket>();
  const sockets = new Set<WebSocket>();
  const closedSockets: Promise<void>[] = [];
  const toHarness = { frames: 0, bytes: 0 };
  const { promise: listening, resolve: onListen } = Promise.withResolvers<Deno.NetAddr>();

  function track(socket: WebSocket): void {
    sockets.add(socket);
    const { promise, resolve } = Promise.withResolvers<void>();
    socket.addEventListener("close", () => {
      sockets.delete(socket);
      resolve();
    });
    closedSockets.push(promise);
  }

  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: (addr) => onListen(addr as Deno.NetAddr),
  }, (request) => {
    const role = new URL(request.url).searchParams.get("role");
    if (request.headers.get("upgrade") !== "websocket" || !role) {
      return new Response("expected a websocket upgrade with ?role=", { status: 400 });
    }
    const { socket, response } = Deno.upgradeWebSocket(request);
    socket.binaryType = "arraybuffer";
    track(socket);
    if (role === "environment") {
      executor?.close(1000, "replaced");
      executor = socket;
      socket.addEventListener("message", (event) => {
        if (typeof event.data === "string") return;
        const bytes = new Uint8Array(event.data as ArrayBuffer);
        let id: string;
        try {
          id = decodeFrame(bytes).streamId;
        } catch {
          return;
        }
        const owner = owners.get(id);
        if (owner?.readyState === WebSocket.OPEN) {
          toHarness.frames++;
          toHarness.bytes += bytes.length;
          owner.send(bytes);
        }
      });
      socket.addEventListener("close", () => {
        if (executor === socket) executor = undefined;
      });
    } else {
      socket.addEventListener("message", (event) => {
        if (typeof event.data !== "string") {
          try {
            const id = decodeFrame(new Uint8Array(event.data as ArrayBuffer)).streamId;
            if (!owners.has(id)) owners.set(id, socket);
          } catch {
            // Forward garbage unchanged: the executor has to survive it.
          }
        }
        if (executor?.readyState === WebSocket.OPEN) executor.send(event.data);
      });
      socket.addEventListener("close", () => {
        for (const [id, owner] of owners) if (owner === socket) owners.delete(id);
      });
    }
    return response;
  });

  return listening.then((addr) => ({
    url: `ws://127.0.0.1:${addr.port}/relay`,
    toHarness,
    async close() {
      for (const socket of sockets) {
        if (socket.readyState === WebSocket.OPEN || socket.readyState === WebSocket.CONNECTING) {
          socket.close(1001, "rendezvous shutting down");
        }
      }
      await Promise.all(closedSockets);
      await server.shutdown();
    },
  }));
}

/** Opens a client websocket and waits for it to be open. */
export async function openSocket(url: string): Promise<WebSocket> {
  const socket = new WebSocket(url);
  socket.binaryType = "arraybuffer";
  const { promise, resolve, reject } = Promise.withResolvers<void>();
  socket.addEventListener("open", () => resolve(), { once: true });
  socket.addEventListener("error", () => reject(new Error(`cannot open ${url}`)), { once: true });
  await promise;
  return socket;
}

/** Resolves once `socket` has fully closed. */
export function socketClosed(socket: WebSocket): Promise<void> {
  if (socket.readyState === WebSocket.CLOSED) return Promise.resolve();
  return new Promise((resolve) =>
    socket.addEventListener("close", () => resolve(), { once: true })
  );
}
