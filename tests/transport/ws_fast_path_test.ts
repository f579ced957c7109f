/**
 * The websocket fast path beside npm `ws` (`lib/transport/_ws_fast_path.ts`), through a real
 * listener and a hand-written client: frames it takes arrive whole and in order with the frames
 * `ws` takes (pings, fragments, frames cut across reads), and every limit and check still holds
 * (message size, UTF-8, masking).
 * @module
 */
import assert from "node:assert/strict";
import { acceptWebSocket, serveHttp } from "../../lib/transport/http_listener.ts";
import { within } from "../relay/_helpers.ts";
import { until } from "../_deadline.ts";
import { RawWebSocket } from "./_raw_ws.ts";
import { websocketTransport } from "../../lib/transport/websocket.ts";

const TEST = { sanitizeOps: false, sanitizeResources: false };
const LIMIT = 1000;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A masked client frame (non-zero key, so unmasking is exercised). */
function clientFrame(opcode: number, payload: Uint8Array, options: { fin?: boolean } = {}) {
  const length = payload.length;
  const head = length < 126 ? 2 : length < 65536 ? 4 : 10;
  const frame = new Uint8Array(head + 4 + length);
  frame[0] = (options.fin === false ? 0 : 0x80) | opcode;
  if (head === 2) frame[1] = 0x80 | length;
  else if (head === 4) {
    frame[1] = 0x80 | 126;
    frame[2] = length >> 8;
    frame[3] = length & 0xff;
  } else {
    frame[1] = 0x80 | 127;
    new DataView(frame.buffer).setBigUint64(2, BigInt(length));
  }
  const mask = [0x37, 0xfa, 0x21, 0x3d];
  frame.set(mask, head);
  for (let i = 0; i < length; i++) frame[head + 4 + i] = payload[i] ^ mask[i % 4];
  return frame;
}

function join(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** An echo server on the real listener: text back as text, binary back as `bin:<length>`. */
async function startEcho(maxMessageBytes = LIMIT) {
  const listener = await serveHttp(
    { hostname: "127.0.0.1", port: 0, label: "fast-path-test", maxMessageBytes },
    () =>
      acceptWebSocket((socket) => {
        socket.binaryType = "arraybuffer";
        socket.addEventListener("message", (event) => {
          const data = event.data;
          socket.send(
            typeof data === "string" ? data : `bin:${(data as ArrayBuffer).byteLength}`,
          );
        });
      }),
  );
  return {
    url: `ws://127.0.0.1:${listener.addr.port}/`,
    [Symbol.asyncDispose]: () => listener.shutdown(),
  };
}

async function readText(ws: RawWebSocket): Promise<string> {
  const frame = await within(5_000, "a frame from the server", ws.read());
  assert.ok(frame, "the server closed the connection");
  assert.equal(frame.opcode, 1, `expected a text frame, got opcode ${frame.opcode}`);
  assert.ok(frame.fin);
  return decoder.decode(frame.payload);
}

Deno.test({
  timeout: 30_000,
  name: "fast path: frames in one read, split across reads, beside pings and fragments, in order",
  ...TEST,
}, async () => {
  await using server = await startEcho();
  const ws = await RawWebSocket.open(server.url);
  try {
    const texts = Array.from({ length: 20 }, (_, i) => `message ${i} ${"é".repeat(i * 10)}`);
    // One write: text frames, a binary frame, a ping, a fragmented message, a 16-bit length.
    const mid = encoder.encode("frag-");
    const batch = join(
      ...texts.slice(0, 10).map((t) => clientFrame(1, encoder.encode(t))),
      clientFrame(2, new Uint8Array(300)),
      clientFrame(9, encoder.encode("ping!")),
      clientFrame(1, mid, { fin: false }),
      clientFrame(0, encoder.encode("mented")),
      ...texts.slice(10).map((t) => clientFrame(1, encoder.encode(t))),
    );
    assert.ok(await ws.write(batch));
    for (const text of texts.slice(0, 10)) assert.equal(await readText(ws), text);
    assert.equal(await readText(ws), "bin:300");
    const pong = await within(5_000, "the pong", ws.read());
    assert.equal(pong?.opcode, 10);
    assert.equal(decoder.decode(pong!.payload), "ping!");
    assert.equal(await readText(ws), "frag-mented");
    for (const text of texts.slice(10)) assert.equal(await readText(ws), text);
    // A frame cut into one-byte writes, then one cut in the middle of its length field.
    const cut = clientFrame(1, encoder.encode("x".repeat(200)));
    for (let i = 0; i < cut.length; i++) assert.ok(await ws.write(cut.subarray(i, i + 1)));
    assert.equal(await readText(ws), "x".repeat(200));
    const again = join(
      clientFrame(1, encoder.encode("a")),
      clientFrame(1, encoder.encode("b".repeat(130))),
    );
    assert.ok(await ws.write(again.subarray(0, 9)));
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.ok(await ws.write(again.subarray(9)));
    assert.equal(await readText(ws), "a");
    assert.equal(await readText(ws), "b".repeat(130));
  } finally {
    ws.close();
  }
});

Deno.test({
  timeout: 30_000,
  name: "fast path: large replies queued behind a write in flight leave joined, whole and in order",
  ...TEST,
}, async () => {
  await using server = await startEcho(4 * 1024 * 1024);
  const ws = await RawWebSocket.open(server.url);
  try {
    // ASCII, two- and three-byte text, small and large (a 600 KiB frame is larger than a joined
    // write); each with its own prefix, so a buffer reused or joined wrongly shows.
    const texts = (round: number) => [
      `${round}`.padEnd(16 * 1024, "a"),
      `${round}`.padEnd(100 * 1024, "é"),
      `${round}`.padEnd(300 * 1024, "€"),
      `${round}`.padEnd(600 * 1024, "z"),
      `${round}`.padEnd(20 * 1024, "q"),
    ];
    for (let round = 0; round < 3; round++) {
      // ~10 MB in one write, read only afterwards: the replies outgrow the socket's buffers, so
      // they queue behind each other and leave joined.
      const sent = Array.from({ length: 8 }, (_, i) => texts(round * 10 + i)).flat();
      assert.ok(await ws.write(join(...sent.map((t) => clientFrame(1, encoder.encode(t))))));
      for (const text of sent) {
        const got = await readText(ws);
        assert.equal(got.length, text.length);
        assert.ok(got === text, `reply of ${text.length} chars differs (round ${round})`);
      }
    }
  } finally {
    ws.close();
  }
});

Deno.test({
  timeout: 60_000,
  name:
    "fast path: bursts of output-sized replies on several connections at once, framed into shared write batches, arrive whole and in order on each",
  ...TEST,
}, async () => {
  await using server = await startEcho(256 * 1024);
  const connections = await Promise.all([1, 2, 3].map(() => RawWebSocket.open(server.url)));
  try {
    await Promise.all(connections.map(async (ws, c) => {
      for (let round = 0; round < 4; round++) {
        // 1 KiB to 60 KiB, ASCII and two-byte text, each with its own prefix: a batch reused
        // while one of its writes was still in flight would show as another reply's bytes.
        const sent = Array.from({ length: 60 }, (_, i) => {
          const prefix = `c${c} r${round} #${i} `;
          const length = 1024 + ((i * 7919 + c * 104729 + round * 31) % (60 * 1024));
          return prefix + (i % 5 === 0 ? "ü" : text(1, i)).repeat(length);
        });
        assert.ok(await ws.write(join(...sent.map((t) => clientFrame(1, encoder.encode(t))))));
        for (const expected of sent) {
          const got = await readText(ws);
          assert.ok(got === expected, `connection ${c} round ${round}: a reply differs`);
        }
      }
    }));
  } finally {
    for (const ws of connections) ws.close();
  }
});

Deno.test({
  timeout: 30_000,
  name: "fast path: binary sends of every header size, in a burst, arrive whole and in order",
  ...TEST,
}, async () => {
  const listener = await serveHttp(
    { hostname: "127.0.0.1", port: 0, label: "fast-path-test", maxMessageBytes: 1 << 20 },
    () =>
      acceptWebSocket((socket) => {
        socket.binaryType = "arraybuffer";
        socket.addEventListener("message", (event) => {
          socket.send(new Uint8Array(event.data as ArrayBuffer));
        });
      }),
  );
  const ws = await RawWebSocket.open(`ws://127.0.0.1:${listener.addr.port}/`);
  try {
    const sizes = [1, 125, 126, 1023, 1024, 65_535, 65_536, 200_000, 3, 61_500, 61_500, 61_500];
    const payloads = sizes.map((n, i) =>
      Uint8Array.from({ length: n }, (_, j) => (i * 31 + j) & 255)
    );
    assert.ok(await ws.write(join(...payloads.map((p) => clientFrame(2, p)))));
    for (const [i, expected] of payloads.entries()) {
      const frame = await within(5_000, "a frame from the server", ws.read());
      assert.ok(frame, "the server closed the connection");
      assert.equal(frame.opcode, 2);
      assert.deepEqual(frame.payload, expected, `binary reply ${i} (${expected.length} bytes)`);
    }
  } finally {
    ws.close();
    await listener.shutdown();
  }
});

Deno.test({
  timeout: 30_000,
  name: "fast path: a whole frame at the limit passes, one byte over closes with 1009",
  ...TEST,
}, async () => {
  await using server = await startEcho();
  const ws = await RawWebSocket.open(server.url);
  try {
    assert.ok(await ws.write(clientFrame(1, encoder.encode("y".repeat(LIMIT)))));
    assert.equal(await readText(ws), "y".repeat(LIMIT));
    assert.ok(await ws.write(clientFrame(1, encoder.encode("z".repeat(LIMIT + 1)))));
    assert.equal(await within(5_000, "the close", ws.closeCode()), 1009);
  } finally {
    ws.close();
  }
});

Deno.test({
  timeout: 30_000,
  name: "fast path: invalid UTF-8 closes with 1007, an unmasked client frame with 1002",
  ...TEST,
}, async () => {
  await using server = await startEcho();
  const bad = await RawWebSocket.open(server.url);
  try {
    assert.ok(
      await bad.write(join(
        clientFrame(1, encoder.encode("fine")),
        clientFrame(1, new Uint8Array([0x68, 0xc3, 0x28])),
      )),
    );
    assert.equal(await readText(bad), "fine");
    assert.equal(await within(5_000, "the close", bad.closeCode()), 1007);
  } finally {
    bad.close();
  }
  const unmasked = await RawWebSocket.open(server.url);
  try {
    assert.ok(await unmasked.write(new Uint8Array([0x81, 2, 0x68, 0x69])));
    assert.equal(await within(5_000, "the close", unmasked.closeCode()), 1002);
  } finally {
    unmasked.close();
  }
});

/** Writes `bytes` in pieces of pseudo-random sizes (1 byte to 100 KiB), as TCP may deliver them. */
async function writeCut(ws: RawWebSocket, bytes: Uint8Array, seed: number): Promise<void> {
  let state = seed;
  for (let offset = 0; offset < bytes.length;) {
    state = (state * 1103515245 + 12345) % 2147483648;
    const size = 1 + (state % 100_000);
    assert.ok(await ws.write(bytes.subarray(offset, offset + size)));
    offset += size;
  }
}

function text(length: number, seed: number): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const rotated = alphabet.slice(seed % 64) + alphabet.slice(0, seed % 64);
  return rotated.repeat(Math.ceil(length / 64)).slice(0, length);
}

Deno.test({
  timeout: 60_000,
  name: "fast path: large frames arrive whole and in order, cut anywhere, beside small frames",
  ...TEST,
}, async () => {
  await using server = await startEcho(8 * 1024 * 1024);
  const ws = await RawWebSocket.open(server.url);
  try {
    // Odd lengths (the unmask's tail), non-ASCII text, past the 2 MiB first buffer (growth).
    const texts = [
      text(300_001, 1),
      `${"é".repeat(40_000)}${text(3, 2)}`,
      text(65_536, 3),
      text(3 * 1024 * 1024 + 3, 4),
    ];
    const small = "small after large";
    const batch = join(
      ...texts.flatMap((
        t,
      ) => [clientFrame(1, encoder.encode(t)), clientFrame(1, encoder.encode(small))]),
      clientFrame(2, new Uint8Array(70_001)),
      clientFrame(9, encoder.encode("ping!")),
      clientFrame(1, encoder.encode("last")),
    );
    const reading = (async () => {
      for (const t of texts) {
        assert.equal(await readText(ws), t);
        assert.equal(await readText(ws), small);
      }
      assert.equal(await readText(ws), "bin:70001");
      assert.equal((await within(5_000, "the pong", ws.read()))?.opcode, 10);
      assert.equal(await readText(ws), "last");
    })();
    await writeCut(ws, batch, 7);
    await within(30_000, "every echo", reading);
  } finally {
    ws.close();
  }
});

/** `bytes` in two writes, the first `at` bytes a moment before the rest: the server likely reads
 * them apart (a header cut by a read); the assertions hold however the reads fall. */
async function writeApart(ws: RawWebSocket, bytes: Uint8Array, at: number): Promise<void> {
  assert.ok(await ws.write(bytes.subarray(0, at)));
  await new Promise((resolve) => setTimeout(resolve, 15));
  assert.ok(await ws.write(bytes.subarray(at)));
}

Deno.test({
  timeout: 60_000,
  name: "fast path: frames of every size cut anywhere, headers too, arrive whole and in order",
  ...TEST,
}, async () => {
  await using server = await startEcho(256 * 1024);
  const ws = await RawWebSocket.open(server.url);
  try {
    // Each header form (7-bit, 16-bit, 64-bit length) cut after every byte of it.
    for (const length of [100, 300, 70_000]) {
      const frame = clientFrame(1, encoder.encode(text(length, length)));
      const header = length < 126 ? 6 : length < 65536 ? 8 : 14;
      for (let at = 1; at <= header; at++) {
        await writeApart(ws, frame, at);
        assert.equal(await readText(ws), text(length, length), `cut after byte ${at}`);
      }
    }
    // Relay-sized frames (60 KiB segments) and others, streamed with cuts of every size.
    const sizes = [0, 1, 125, 126, 61_500, 61_500, 65_535, 65_536, 1_000, 61_500, 200_000, 7];
    const frames = sizes.flatMap((n, i) => [
      clientFrame(1, encoder.encode(text(n, i))),
      clientFrame(2, new Uint8Array(n + i)),
    ]);
    const reading = (async () => {
      for (const [i, n] of sizes.entries()) {
        assert.equal(await readText(ws), text(n, i));
        assert.equal(await readText(ws), `bin:${n + i}`);
      }
    })();
    for (let seed = 1; seed <= 3; seed++) await writeCut(ws, join(...frames), seed);
    await within(30_000, "every echo", reading);
    const again = (async () => {
      for (let round = 0; round < 2; round++) {
        for (const [i, n] of sizes.entries()) {
          assert.equal(await readText(ws), text(n, i));
          assert.equal(await readText(ws), `bin:${n + i}`);
        }
      }
    })();
    await within(30_000, "every echo again", again);
  } finally {
    ws.close();
  }
  // A cut header still meets every rule: unmasked closes with 1002, over the limit with 1009.
  const unmasked = await RawWebSocket.open(server.url);
  try {
    await writeApart(unmasked, new Uint8Array([0x81, 2, 0x68, 0x69]), 1);
    assert.equal(await within(5_000, "the close", unmasked.closeCode()), 1002);
  } finally {
    unmasked.close();
  }
  const over = await RawWebSocket.open(server.url);
  try {
    const frame = clientFrame(1, encoder.encode(text(256 * 1024 + 1, 9)));
    await writeApart(over, frame.subarray(0, 20), 5);
    assert.equal(await within(5_000, "the close", over.closeCode()), 1009);
  } finally {
    over.close();
  }
});

Deno.test({
  timeout: 30_000,
  name: "fast path: a large frame of invalid UTF-8 closes with 1007, one over the limit with 1009",
  ...TEST,
}, async () => {
  await using server = await startEcho(1024 * 1024);
  const bad = await RawWebSocket.open(server.url);
  try {
    const payload = encoder.encode(text(200_000, 5));
    payload[199_999] = 0xc3; // a lead byte with nothing after it
    assert.ok(
      await bad.write(join(clientFrame(1, encoder.encode("fine")), clientFrame(1, payload))),
    );
    assert.equal(await readText(bad), "fine");
    assert.equal(await within(5_000, "the close", bad.closeCode()), 1007);
  } finally {
    bad.close();
  }
  const big = await RawWebSocket.open(server.url);
  try {
    assert.ok(await big.write(clientFrame(1, encoder.encode(text(1024 * 1024, 6)))));
    assert.equal(await readText(big), text(1024 * 1024, 6));
    // Only the header and a little of the payload: the limit applies before any buffering.
    const over = clientFrame(1, encoder.encode(text(1024 * 1024 + 1, 7)));
    assert.ok(await big.write(over.subarray(0, 1000)));
    assert.equal(await within(5_000, "the close", big.closeCode()), 1009);
  } finally {
    big.close();
  }
});

Deno.test({
  timeout: 60_000,
  name: "fast path: a reader that pauses on large frames (backpressure) resumes, every time",
  ...TEST,
}, async () => {
  // websocketTransport pauses the socket past 16 MiB unprocessed and resumes below 4 MiB.
  const COUNT = 48;
  const received = Promise.withResolvers<string[]>();
  const listener = await serveHttp(
    { hostname: "127.0.0.1", port: 0, label: "fast-path-test", maxMessageBytes: 4 << 20 },
    () =>
      acceptWebSocket((socket) => {
        const transport = websocketTransport(socket, { label: "paused reader" });
        (async () => {
          // Read nothing until the sender has filled the queue past the pause point.
          await new Promise((resolve) => setTimeout(resolve, 500));
          const texts: string[] = [];
          for await (const item of transport.receive()) {
            texts.push(item as string);
            if (texts.length === COUNT) break;
            // Slower than the socket: the queue refills past the pause point, again and again.
            await new Promise((resolve) => setTimeout(resolve, 10));
          }
          received.resolve(texts);
        })().catch(received.reject);
      }),
  );
  const ws = await RawWebSocket.open(`ws://127.0.0.1:${listener.addr.port}/`);
  try {
    const texts = Array.from({ length: COUNT }, (_, i) => text(1024 * 1024 + i, i));
    const writing = (async () => {
      let written = 0;
      for (const t of texts) {
        if (!await ws.write(clientFrame(1, encoder.encode(t)))) break;
        written++;
      }
      return written;
    })();
    const got = await within(20_000, "every message through the pauses", received.promise);
    assert.equal(await writing, COUNT);
    assert.equal(got.length, COUNT);
    got.forEach((t, i) => assert.equal(t, texts[i], `message ${i}`));
  } finally {
    ws.close();
    await listener.shutdown();
  }
});

Deno.test({
  timeout: 30_000,
  name:
    "fast path: a socket its listener paused on a frame the fast path took whole reads again on resume",
  ...TEST,
}, async () => {
  // The rendezvous pauses a socket from its message listener (backpressure) and resumes it
  // later; when that frame ended the read, the connection must still be read after resume.
  const listener = await serveHttp(
    { hostname: "127.0.0.1", port: 0, label: "fast-path-pause-test", maxMessageBytes: LIMIT },
    () =>
      acceptWebSocket((socket) => {
        const ws = socket as unknown as { pause(): void; resume(): void };
        socket.addEventListener("message", (event) => {
          socket.send(`echo:${event.data}`);
          ws.pause();
          setTimeout(() => ws.resume(), 20);
        });
      }),
  );
  const ws = await RawWebSocket.open(`ws://127.0.0.1:${listener.addr.port}/`);
  try {
    for (let i = 0; i < 5; i++) {
      // One frame per write, each answered before the next: every read ends at a frame's end.
      assert.ok(await ws.write(clientFrame(1, encoder.encode(`m${i}`))));
      assert.equal(await readText(ws), `echo:m${i}`);
    }
  } finally {
    ws.close();
    await listener.shutdown();
  }
});

Deno.test({
  timeout: 60_000,
  name: "fast path: frames queued behind a write count as buffered, so a non-reading peer stalls " +
    "the sender; then every frame arrives whole and in order",
  ...TEST,
}, async () => {
  const COUNT = 4096; // 16 KiB each: 64 MiB, far more than the socket buffers hold
  let resolvedBytes = 0;
  let lastProgress = performance.now();
  let sentAll = false;
  const listener = await serveHttp(
    { hostname: "127.0.0.1", port: 0, label: "fast-path-test", maxMessageBytes: LIMIT },
    () =>
      acceptWebSocket((socket) => {
        const transport = websocketTransport(socket, {
          label: "flooding sender",
          highWaterMark: 1024 * 1024,
        });
        (async () => {
          // Flood once the upgrade response is written, as process output comes after a
          // request: only then do frames take the fast path (nothing queued in the Writable).
          for await (const _ of transport.receive()) break;
          for (let i = 0; i < COUNT; i++) {
            const message = `${i}:${text(16 * 1024, i)}`;
            await transport.send(message);
            resolvedBytes += message.length;
            lastProgress = performance.now();
          }
          sentAll = true;
        })().catch(() => {});
      }),
  );
  const ws = await RawWebSocket.open(`ws://127.0.0.1:${listener.addr.port}/`);
  try {
    assert.ok(await ws.write(clientFrame(1, encoder.encode("go"))));
    // Nothing is read: the sender must stop at its high-water mark plus what the kernel holds.
    await until(20_000, "the sender to stall", () => {
      assert.ok(!sentAll, `all ${COUNT} sends resolved while the peer read nothing`);
      return resolvedBytes > 0 && performance.now() - lastProgress > 300;
    });
    assert.ok(
      resolvedBytes < 24 * 1024 * 1024,
      `${resolvedBytes} bytes of sends resolved while the peer read nothing`,
    );
    for (let i = 0; i < COUNT; i++) assert.equal(await readText(ws), `${i}:${text(16 * 1024, i)}`);
    assert.ok(sentAll);
  } finally {
    ws.close();
    await listener.shutdown();
  }
});
