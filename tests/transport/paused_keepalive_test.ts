/**
 * The listener's websocket ping check and backpressure: a socket the server stopped reading
 * (`pause()`, as the rendezvous does to an executor while a harness is behind) is not cut for
 * Pongs it could not read; a peer that stops answering while read is still cut.
 * @module
 */
import assert from "node:assert/strict";
import { acceptWebSocket, serveHttp } from "../../lib/transport/http_listener.ts";
import { connectWsLink } from "../../lib/relay/ws_link.ts";
import { within } from "../relay/_helpers.ts";

const TEST = { sanitizeOps: false, sanitizeResources: false };
const PING_SECONDS = 0.1;

Deno.test({
  timeout: 30_000,
  name: "keepalive: a websocket paused for 10 ping intervals survives and is read again",
  ...TEST,
}, async () => {
  const closed = Promise.withResolvers<string>();
  const listener = await serveHttp(
    { hostname: "127.0.0.1", port: 0, label: "keepalive-test", pingIntervalSeconds: PING_SECONDS },
    () =>
      acceptWebSocket((socket) => {
        const ws = socket as unknown as { pause(): void; resume(): void };
        ws.pause();
        setTimeout(() => ws.resume(), PING_SECONDS * 10_000);
        socket.addEventListener("message", (event) => {
          socket.send(new Uint8Array(event.data as ArrayBuffer));
        });
        socket.addEventListener("close", (event) => closed.resolve(`closed (${event.code})`));
      }),
  );
  try {
    const outcome = await connectWsLink(`ws://127.0.0.1:${listener.addr.port}/`);
    assert.equal(outcome.kind, "open");
    if (outcome.kind !== "open") return;
    const echo = Promise.withResolvers<Uint8Array | string>();
    const lost = Promise.withResolvers<string>();
    outcome.link.attach({ onMessage: echo.resolve, onClose: lost.resolve });
    // Sent at once; the server reads it only after its 1 s pause.
    outcome.link.send(new Uint8Array([1, 2, 3]));
    const first = await within(
      10_000,
      "the echo after the pause",
      Promise.race([
        echo.promise,
        lost.promise.then((reason) => {
          throw new Error(`the paused socket was cut: ${reason}`);
        }),
      ]),
    );
    assert.deepEqual(first, new Uint8Array([1, 2, 3]));
    outcome.link.close();
    await within(5_000, "the server side closes", closed.promise);
  } finally {
    await listener.shutdown();
  }
});
