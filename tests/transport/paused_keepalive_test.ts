/**
 * Websocket keepalives and backpressure, on both ends: a socket the listener stopped reading
 * (`pause()`, as the rendezvous does to an executor while a harness is behind), and a dialled
 * relay link that stopped reading (`setReading(false)`, as our E5 harness does while its
 * application is behind), are not cut for Pongs they could not read; a link whose Pongs stop
 * coming while it is read is still cut.
 * @module
 */
import assert from "node:assert/strict";
import { acceptWebSocket, serveHttp } from "../../lib/transport/http_listener.ts";
import { connectWsLink } from "../../lib/relay/ws_link.ts";
import { within } from "../relay/_helpers.ts";
import { startTcpProxy } from "../_tcp_proxy.ts";

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

Deno.test({
  timeout: 30_000,
  name:
    "keepalive: a dialled link that stopped reading (setReading(false)) is not cut for the Pongs it could not read",
  ...TEST,
}, async () => {
  const listener = await serveHttp(
    { hostname: "127.0.0.1", port: 0, label: "keepalive-test", pingIntervalSeconds: 60 },
    () =>
      acceptWebSocket((socket) => {
        socket.addEventListener("message", (event) => {
          socket.send(new Uint8Array(event.data as ArrayBuffer));
        });
      }),
  );
  try {
    const outcome = await connectWsLink(`ws://127.0.0.1:${listener.addr.port}/`, {
      pingIntervalMs: 50,
      pongTimeoutMs: 100,
    });
    assert.equal(outcome.kind, "open");
    if (outcome.kind !== "open") return;
    const echo = Promise.withResolvers<Uint8Array | string>();
    const lost = Promise.withResolvers<string>();
    outcome.link.attach({ onMessage: echo.resolve, onClose: lost.resolve });
    // Paused for 10 pong timeouts (an application far behind), then read again.
    outcome.link.setReading!(false);
    outcome.link.send(new Uint8Array([4, 5, 6]));
    const resumed = new Promise<void>((resolve) =>
      setTimeout(() => {
        outcome.link.setReading!(true);
        resolve();
      }, 1000)
    );
    const first = await within(
      10_000,
      "the echo after the pause",
      Promise.race([
        resumed.then(() => echo.promise),
        lost.promise.then((reason) => {
          throw new Error(`the paused link was cut: ${reason}`);
        }),
      ]),
    );
    assert.deepEqual(first, new Uint8Array([4, 5, 6]));
    // Read again, it is judged again: the pings go on and are answered.
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(await Promise.race([lost.promise, Promise.resolve("alive")]), "alive");
    outcome.link.close();
  } finally {
    await listener.shutdown();
  }
});

Deno.test({
  timeout: 30_000,
  name: "keepalive: a dialled link that is read while its Pongs stop coming is still cut",
  ...TEST,
}, async () => {
  const listener = await serveHttp(
    { hostname: "127.0.0.1", port: 0, label: "keepalive-test", pingIntervalSeconds: 60 },
    () => acceptWebSocket(() => {}),
  );
  await using proxy = startTcpProxy(listener.addr.port);
  try {
    const outcome = await connectWsLink(proxy.url, { pingIntervalMs: 50, pongTimeoutMs: 100 });
    assert.equal(outcome.kind, "open");
    if (outcome.kind !== "open") return;
    const lost = Promise.withResolvers<string>();
    outcome.link.attach({ onMessage() {}, onClose: lost.resolve });
    proxy.stall(); // what the server sends, its Pongs included, no longer arrives
    assert.match(await within(5_000, "the pong timeout", lost.promise), /pong_timeout/);
    proxy.resume();
  } finally {
    await listener.shutdown();
  }
});
