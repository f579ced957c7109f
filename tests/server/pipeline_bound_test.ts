/**
 * `--concurrent-requests N` reads no further than a bounded number of requests ahead: a peer that
 * pipelines far more than the lanes answer is pushed back on (TCP), not buffered in the server.
 * @module
 */
import assert from "node:assert/strict";
import { startServer, TestClient } from "../_harness.ts";
import { frameHeader, RawWebSocket, rssMiB } from "../transport/_raw_ws.ts";

const TEST = { sanitizeOps: false, sanitizeResources: false };
const encoder = new TextEncoder();

function frame(message: unknown): Uint8Array {
  const payload = encoder.encode(JSON.stringify({ jsonrpc: "2.0", ...message as object }));
  const header = frameHeader(true, 1, payload.length);
  const out = new Uint8Array(header.length + payload.length);
  out.set(header);
  out.set(payload, header.length);
  return out;
}

Deno.test({
  name: "serve --concurrent-requests 2: 300,000 pipelined long polls are pushed back, not held",
  timeout: 60_000,
  ...TEST,
}, async () => {
  await using server = await startServer({ args: ["--concurrent-requests", "2"] });
  const raw = await RawWebSocket.open(server.url);
  try {
    await raw.write(frame({ id: 1, method: "initialize", params: { clientName: "pipeliner" } }));
    await raw.write(frame({ method: "initialized", params: {} }));
    await raw.write(frame({
      id: 2,
      method: "process/start",
      params: { processId: "sleeper", argv: ["sleep", "30"], cwd: "/", env: {}, tty: false },
    }));
    for (let answered = 0; answered < 2;) {
      const next = await raw.read();
      assert.ok(next, "server closed");
      if (next.opcode === 1) answered++;
    }
    const before = rssMiB(server.child.pid);
    // Every request is a long poll, so the lanes (2 each) stay full and the rest must wait.
    const total = 300_000;
    const pad = "p".repeat(200);
    let sent = 0;
    let lastProgress = Date.now();
    const writer = (async () => {
      for (let id = 3; id < 3 + total; id += 1000) {
        const batch = [];
        for (let i = id; i < Math.min(id + 1000, 3 + total); i++) {
          batch.push(frame({
            id: i,
            method: "process/read",
            params: { processId: "sleeper", afterSeq: 1_000_000, waitMs: 25_000, pad },
          }));
        }
        const bytes = new Uint8Array(batch.reduce((n, b) => n + b.length, 0));
        let offset = 0;
        for (const b of batch) {
          bytes.set(b, offset);
          offset += b.length;
        }
        if (!await raw.write(bytes)) return;
        sent += batch.length;
        lastProgress = Date.now();
      }
    })();
    // The server stops reading: our writes stall well before the last request.
    const deadline = Date.now() + 30_000;
    while (sent < total && Date.now() - lastProgress < 3000 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(sent < total, `the server read all ${total} pipelined requests`);
    const grown = rssMiB(server.child.pid) - before;
    assert.ok(grown < 150, `server RSS grew by ${grown.toFixed(0)} MiB`);
    raw.close();
    await writer;
  } finally {
    raw.close();
  }
  // The server still serves a fresh client.
  await using fresh = await TestClient.connect(server.url);
  await fresh.initialize();
});
