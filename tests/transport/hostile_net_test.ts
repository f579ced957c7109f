/**
 * Attacks on the listeners of `serve` and `rendezvous` through real sockets: silent connections,
 * descriptor exhaustion under `ulimit -n`, websocket messages split into continuation frames
 * beyond 64 MiB. After each, the attacked process must still answer a fresh client.
 * @module
 */
import assert from "node:assert/strict";
import { TestClient } from "../_harness.ts";
import { within } from "../relay/_helpers.ts";
import { until } from "../_deadline.ts";
import { RawWebSocket, rssMiB } from "./_raw_ws.ts";
import { startLimited } from "./_limited_child.ts";
import { dialWebSocket } from "../../lib/transport/websocket_dial.ts";

const MiB = 1024 * 1024;
const TEST = { sanitizeOps: false, sanitizeResources: false };

async function freshClientAnswers(url: string): Promise<void> {
  const client = await within(15_000, "a fresh client connects", TestClient.connect(url));
  try {
    const result = await within(10_000, "initialize", client.initialize()) as {
      sessionId: string;
    };
    assert.equal(typeof result.sessionId, "string");
  } finally {
    await client.close();
  }
}

async function silentConnectionIsDropped(url: string): Promise<void> {
  const { hostname, port } = new URL(url.replace(/^ws/, "http"));
  const conn = await Deno.connect({ hostname, port: Number(port) });
  try {
    const n = await within(
      5_000,
      "the server drops a silent connection",
      conn.read(new Uint8Array(16)),
    );
    assert.equal(n, null);
  } finally {
    try {
      conn.close();
    } catch {
      // closed by the server
    }
  }
}

Deno.test({
  timeout: 60_000,
  name: "serve: silent connections hit the head deadline; descriptor exhaustion is survived",
  ...TEST,
}, async () => {
  // A cap above what 256 descriptors hold (the default would stop at 64), so EMFILE is reached.
  await using server = await startLimited(256, [
    "serve",
    "--listen",
    "ws://127.0.0.1:0",
    "--max-connections",
    "1000",
  ], { CODEX_EXEC_SERVER_HTTP_DEADLINE_MS: "1000" });
  await server.waitForStderr("more than the open-file limit (256)");
  await silentConnectionIsDropped(server.firstLine);
  // Open websockets one by one (never more than one unanswered) until descriptors run out.
  const sockets: WebSocket[] = [];
  let failures = 0;
  for (let i = 0; i < 320 && failures < 3; i++) {
    const socket = dialWebSocket(server.firstLine);
    sockets.push(socket);
    const opened = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 1500);
      socket.addEventListener("open", () => (clearTimeout(timer), resolve(true)));
      socket.addEventListener("error", () => (clearTimeout(timer), resolve(false)));
    });
    if (!opened) failures++;
  }
  assert.ok(failures > 0, "256 descriptors must run out before 320 connections");
  await server.waitForStderr("accepting a connection failed");
  assert.ok(server.alive(), `the server exited:\n${server.stderr().slice(-2000)}`);
  for (const socket of sockets) socket.close();
  await freshClientAnswers(server.firstLine);
});

/** Opens a websocket; `true` once open, else the HTTP status the upgrade was refused with. */
function openOrStatus(url: string, sockets: WebSocket[]): Promise<true | number | undefined> {
  const socket = dialWebSocket(url);
  sockets.push(socket);
  return within(
    5_000,
    "the upgrade is answered",
    new Promise((resolve) => {
      socket.addEventListener("open", () => resolve(true));
      socket.addEventListener("error", (event) => {
        const status = /server response: (\d{3})/.exec((event as ErrorEvent).message ?? "");
        resolve(status ? Number(status[1]) : undefined);
      });
    }),
  );
}

Deno.test({
  timeout: 60_000,
  name: "serve: the connection cap follows the open-file limit, and --max-connections sets it",
  ...TEST,
}, async () => {
  // ulimit -n 256 leaves no room after the 256 reserved descriptors: the floor of 64 applies.
  await using limited = await startLimited(256, ["serve", "--listen", "ws://127.0.0.1:0"]);
  const sockets: WebSocket[] = [];
  try {
    for (let i = 0; i < 64; i++) {
      assert.equal(await openOrStatus(limited.firstLine, sockets), true, `connection ${i + 1}`);
    }
    assert.equal(await openOrStatus(limited.firstLine, sockets), 503);
    assert.doesNotMatch(limited.stderr(), /accepting a connection failed/);
    await using capped = await startLimited(4096, [
      "serve",
      "--listen",
      "ws://127.0.0.1:0",
      "--max-connections",
      "3",
    ]);
    for (let i = 0; i < 3; i++) assert.equal(await openOrStatus(capped.firstLine, sockets), true);
    assert.equal(await openOrStatus(capped.firstLine, sockets), 503);
    sockets.pop();
    sockets.pop()!.close();
    // The close reaches the server a moment later; each refused try is itself answered 503.
    await until(
      10_000,
      "the freed slot is usable",
      async () => await openOrStatus(capped.firstLine, sockets) === true,
    );
  } finally {
    for (const socket of sockets) socket.close();
  }
});

Deno.test({
  timeout: 60_000,
  name: "serve: a message over 64 MiB in continuation frames is closed with 1009",
  ...TEST,
}, async () => {
  await using server = await startLimited(1024, ["serve", "--listen", "ws://127.0.0.1:0"]);
  const raw = await RawWebSocket.open(server.firstLine);
  try {
    // Each frame (1 MiB) is far below the limit; the message they add up to is not.
    // (The server drains what follows until the close handshake, so the writes succeed.)
    await raw.sendFragmented(1, 80 * MiB, MiB);
    assert.equal(await within(10_000, "close frame", raw.closeCode()), 1009);
  } finally {
    raw.close();
  }
  assert.ok(rssMiB(server.pid) < 600, `server RSS ${rssMiB(server.pid)} MiB`);
  await freshClientAnswers(server.firstLine);
});

Deno.test({
  timeout: 60_000,
  name: "dialled websockets: a server's message over the limit closes the socket with 1009",
  ...TEST,
}, async () => {
  // A hostile "server" that answers the upgrade and then streams one endless fragmented message.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const served = (async () => {
    const conn = await listener.accept();
    const head = new Uint8Array(4096);
    const n = await conn.read(head);
    const request = new TextDecoder().decode(head.subarray(0, n ?? 0));
    const key = /Sec-WebSocket-Key: (\S+)/i.exec(request)![1];
    const digest = await crypto.subtle.digest(
      "SHA-1",
      new TextEncoder().encode(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`),
    );
    const accept = btoa(String.fromCharCode(...new Uint8Array(digest)));
    await conn.write(new TextEncoder().encode(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Accept: ${accept}\r\n\r\n`,
    ));
    const chunk = new Uint8Array(MiB).fill(0x20);
    try {
      for (let i = 0; i < 80; i++) {
        const header = new Uint8Array(10);
        header[0] = i === 0 ? 0x01 : 0x00;
        header[1] = 127;
        new DataView(header.buffer).setBigUint64(2, BigInt(MiB));
        await conn.write(header);
        let offset = 0;
        while (offset < chunk.length) offset += await conn.write(chunk.subarray(offset));
      }
    } catch {
      // the client hung up: what we want
    } finally {
      conn.close();
    }
  })();
  const socket = dialWebSocket(`ws://127.0.0.1:${(listener.addr as Deno.NetAddr).port}/`);
  let messages = 0;
  let error = "";
  socket.addEventListener("message", () => messages++);
  socket.addEventListener("error", (e) => error = (e as ErrorEvent).message);
  const code = await within(
    15_000,
    "the client closes",
    new Promise<number>((resolve) => socket.addEventListener("close", (e) => resolve(e.code))),
  );
  // 1009 is what we sent; the hostile peer never answers our close frame, so we see 1006.
  assert.ok(code === 1009 || code === 1006, `close code ${code}`);
  assert.match(error, /Max payload size exceeded/);
  assert.equal(messages, 0);
  await served;
  listener.close();
});
