import assert from "node:assert/strict";
import type { RelayTransport } from "../../lib/relay/mod.ts";
import { decodeFrame } from "../../lib/relay/mod.ts";
import { resolveHarnessUrl } from "../../lib/registry/mod.ts";
import { until, within } from "../_deadline.ts";
import { rawData, rawResume } from "../relay/_raw_frames.ts";
import { openSocket, socketClosed } from "../relay/_ws_rendezvous.ts";
import { startTcpProxy } from "../_tcp_proxy.ts";
import { b64text, isAlive, readToClose, type TestClient } from "../_harness.ts";
import { harnessClient, startRemoteProcess, startRendezvousProcess } from "./_chain.ts";

const TOKEN = "e2e-secret-token-0123456789";
const ENV = { PATH: "/usr/local/bin:/usr/bin:/bin" };
const CWD = "file:///tmp";

function start(client: TestClient, processId: string, script: string) {
  return client.call("process/start", {
    processId,
    argv: ["/bin/sh", "-c", script],
    cwd: CWD,
    env: ENV,
    tty: false,
  });
}

/** stdout text of a process from its `process/output` notifications, checking seq order. */
function pushedOutput(client: TestClient, processId: string): string {
  let lastSeq = 0;
  let text = "";
  for (const params of client.notifications("process/output")) {
    if (params.processId !== processId) continue;
    const seq = params.seq as number;
    assert.ok(seq > lastSeq, `process/output seq ${seq} after ${lastSeq}: duplicate or reorder`);
    lastSeq = seq;
    text += b64text(params.chunk as string);
  }
  return text;
}

function assertNoToken(...outputs: string[]) {
  for (const output of outputs) assert.ok(!output.includes(TOKEN), "the token was printed");
}

Deno.test({
  name: "remote: two concurrent harness sessions through rendezvous, no cross-talk, exit codes",
  timeout: 30_000,
}, async () => {
  await using rendezvous = await startRendezvousProcess({ token: TOKEN });
  await using remote = await startRemoteProcess(rendezvous.firstLine, "e2e-two", {
    token: TOKEN,
  });
  const t0 = performance.now();
  await using a = await harnessClient(rendezvous.firstLine, "e2e-two", TOKEN);
  const firstRpcMs = performance.now() - t0;
  await using b = await harnessClient(rendezvous.firstLine, "e2e-two", TOKEN);
  const sessionA = a.received.find((m) => m.id === 1)!.result as { sessionId: string };
  const sessionB = b.received.find((m) => m.id === 1)!.result as { sessionId: string };
  assert.notEqual(sessionA.sessionId, sessionB.sessionId);
  // The same process id in both sessions: each session has its own process table.
  await Promise.all([
    start(a, "p", "for i in 1 2 3; do echo A$i; sleep 0.05; done; exit 3"),
    start(b, "p", "for i in 1 2 3 4; do echo B$i; sleep 0.03; done; echo oops >&2; exit 5"),
  ]);
  const [ra, rb] = await Promise.all([readToClose(a, "p"), readToClose(b, "p")]);
  assert.deepEqual(ra, { output: "A1\nA2\nA3\n", stdout: "A1\nA2\nA3\n", stderr: "", exitCode: 3 });
  assert.equal(rb.stdout, "B1\nB2\nB3\nB4\n");
  assert.equal(rb.stderr, "oops\n");
  assert.equal(rb.exitCode, 5);
  assert.ok(!JSON.stringify(a.received).includes("B1"), "session A saw session B's output");
  assert.ok(!JSON.stringify(b.received).includes("A1"), "session B saw session A's output");
  console.log(`harness connect + initialize through the rendezvous: ${firstRpcMs.toFixed(1)} ms`);
  await a.close();
  await b.close();
  assert.equal((await remote.stop()).code, 0);
  assertNoToken(remote.stderr(), remote.stdout(), rendezvous.stderr(), rendezvous.stdout());
});

Deno.test({
  name:
    "remote: the executor's websocket is cut mid-output; both sessions get every byte exactly once",
  timeout: 30_000,
}, async () => {
  await using rendezvous = await startRendezvousProcess({ token: TOKEN });
  const port = Number(new URL(rendezvous.firstLine).port);
  await using proxy = startTcpProxy(port);
  // Registration and the executor websocket go through the proxy (the rendezvous issues URLs
  // for the host it was asked on); the harnesses talk to the rendezvous directly.
  await using remote = await startRemoteProcess(`http://127.0.0.1:${proxy.port}`, "e2e-cut", {
    token: TOKEN,
  });
  await using a = await harnessClient(rendezvous.firstLine, "e2e-cut", TOKEN);
  await using b = await harnessClient(rendezvous.firstLine, "e2e-cut", TOKEN);
  const lines = 3000;
  const script = (tag: string, code: number) =>
    `i=1; while [ $i -le ${lines} ]; do echo "${tag} line $i"; ` +
    `[ $((i % 100)) -eq 0 ] && sleep 0.04; i=$((i+1)); done; exit ${code}`;
  await Promise.all([start(a, "long", script("A", 4)), start(b, "long", script("B", 6))]);
  await a.waitFor((m) => m.method === "process/output", 5000);
  await new Promise((r) => setTimeout(r, 300));
  const cutAt = performance.now();
  proxy.cut();
  const beforeCut = pushedOutput(a, "long").length;
  await remote.waitForStderr("lost the rendezvous connection", 5000);
  await remote.waitForStderr("connected to the rendezvous", 10_000, 2);
  const reconnectMs = performance.now() - cutAt;
  for (const [client, tag, code] of [[a, "A", 4], [b, "B", 6]] as const) {
    const exited = await client.waitFor(
      (m) =>
        m.method === "process/exited" && (m.params as { processId: string }).processId === "long",
      20_000,
    );
    await client.waitFor((m) => m.method === "process/closed", 5000);
    assert.equal((exited.params as { exitCode: number }).exitCode, code);
    const expected = Array.from({ length: lines }, (_, i) => `${tag} line ${i + 1}\n`).join("");
    const got = pushedOutput(client, "long");
    assert.equal(got.length, expected.length, `session ${tag}: output length`);
    assert.ok(got === expected, `session ${tag}: lost, duplicated, reordered or foreign bytes`);
    // The session is still usable after the reconnect.
    const read = await client.call("process/read", { processId: "long", afterSeq: 0, waitMs: 0 });
    assert.equal(read.exitCode, code);
  }
  assert.ok(proxy.accepted >= 3, "registration + two websockets went through the proxy");
  const total = pushedOutput(a, "long").length;
  assert.ok(beforeCut > 0 && beforeCut < total / 2, `cut after ${beforeCut} of ${total} bytes`);
  console.log(`executor reconnect after a cut: ${reconnectMs.toFixed(0)} ms (backoff 1 s)`);
  await a.close();
  await b.close();
  assert.equal((await remote.stop()).code, 0);
  assertNoToken(remote.stderr(), rendezvous.stderr());
});

Deno.test({
  name: "remote: SIGTERM resets streams, kills processes and exits 0",
  timeout: 30_000,
}, async () => {
  await using rendezvous = await startRendezvousProcess({ token: TOKEN });
  await using remote = await startRemoteProcess(rendezvous.firstLine, "e2e-term", {
    token: TOKEN,
  });
  await using client = await harnessClient(rendezvous.firstLine, "e2e-term", TOKEN);
  await start(client, "sleeper", "echo $$; exec sleep 60");
  const output = await client.waitFor((m) => m.method === "process/output");
  const pid = Number(b64text((output.params as { chunk: string }).chunk).trim());
  assert.ok(isAlive(pid));
  const status = await remote.stop("SIGTERM");
  assert.equal(status.code, 0);
  await until(5000, "the managed process to die", () => !isAlive(pid));
  // The harness's stream ends promptly with the executor's reset (not a heartbeat timeout).
  await within(5000, "the harness stream to end", client.transport.closed);
  const reason = (client.transport as RelayTransport).endReason ?? "";
  assert.match(reason, /reset/, `harness stream ended with: ${reason}`);
  assertNoToken(remote.stderr(), rendezvous.stderr());
});

Deno.test({
  name: "remote: a restarted rendezvous refuses the old URL; the executor registers again",
  timeout: 30_000,
}, async () => {
  const first = await startRendezvousProcess({ token: TOKEN });
  const base = first.firstLine;
  const port = new URL(base).port;
  await using remote = await startRemoteProcess(base, "e2e-rereg", { token: TOKEN });
  await first.stop();
  // Same port, new signing key: the executor's URL no longer verifies.
  await using second = await startRendezvousProcess({
    token: TOKEN,
    args: ["--listen", `http://127.0.0.1:${port}`],
  });
  await remote.waitForStderr("registering again", 15_000);
  await remote.waitForStderr("connected to the rendezvous", 15_000, 2);
  await using client = await harnessClient(second.firstLine, "e2e-rereg", TOKEN);
  await start(client, "p", "echo again");
  assert.equal((await readToClose(client, "p")).stdout, "again\n");
  await client.close();
  assert.equal((await remote.stop()).code, 0);
  assertNoToken(remote.stderr(), first.stderr(), second.stderr());
});

Deno.test({
  name: "remote: an idle executor notices a silently dead connection by missing keepalives",
  timeout: 30_000,
}, async () => {
  // Keepalives every 500 ms (half the 1 s ping interval).
  await using rendezvous = await startRendezvousProcess({
    token: TOKEN,
    env: { CODEX_EXEC_SERVER_PING_INTERVAL_S: "1" },
  });
  const port = Number(new URL(rendezvous.firstLine).port);
  await using proxy = startTcpProxy(port);
  await using remote = await startRemoteProcess(`http://127.0.0.1:${proxy.port}`, "e2e-idle", {
    token: TOKEN,
  });
  await new Promise((r) => setTimeout(r, 1300)); // two keepalives: the interval is known
  const frozenAt = performance.now();
  proxy.freeze();
  await remote.waitForStderr("nothing from the rendezvous", 8000);
  const detectedMs = performance.now() - frozenAt;
  await remote.waitForStderr("connected to the rendezvous", 10_000, 2);
  await using client = await harnessClient(rendezvous.firstLine, "e2e-idle", TOKEN);
  await start(client, "p", "echo alive");
  assert.equal((await readToClose(client, "p")).stdout, "alive\n");
  assert.ok(detectedMs < 4000, `dead link detected after ${detectedMs} ms`);
  console.log(`silent link detected after ${detectedMs.toFixed(0)} ms (3 missed keepalives)`);
  await client.close();
  proxy.cut();
  assert.equal((await remote.stop()).code, 0);
});

Deno.test({
  name:
    "remote: an upstream-style legacy harness (resume, then one JSON message per data frame) works through the chain",
  timeout: 30_000,
}, async () => {
  await using rendezvous = await startRendezvousProcess({ token: TOKEN });
  await using remote = await startRemoteProcess(rendezvous.firstLine, "e2e-legacy", {
    token: TOKEN,
  });
  const url = await resolveHarnessUrl({
    registry: rendezvous.firstLine,
    executorId: "e2e-legacy",
    token: TOKEN,
  });
  const socket = await openSocket(url);
  const replies: string[] = [];
  socket.addEventListener("message", (event) => {
    const frame = decodeFrame(new Uint8Array(event.data as ArrayBuffer));
    if (frame.streamId === "legacy-1" && frame.body.case === "data") {
      replies.push(new TextDecoder().decode(frame.body.value.payload));
    }
  });
  socket.send(rawResume("legacy-1"));
  socket.send(
    rawData("legacy-1", 0, '{"id":1,"method":"initialize","params":{"clientName":"up"}}'),
  );
  await until(5000, "initialize answered", () => replies.length >= 1);
  assert.match(JSON.parse(replies[0]).result.sessionId, /^[0-9a-f-]{36}$/);
  socket.send(rawData("legacy-1", 1, '{"method":"initialized","params":{}}'));
  socket.send(rawData("legacy-1", 2, '{"id":2,"method":"test/unknown"}'));
  await until(5000, "error answered", () => replies.length >= 2);
  assert.match(JSON.parse(replies[1]).error.message, /test\/unknown/);
  socket.close();
  await socketClosed(socket);
  assert.equal((await remote.stop()).code, 0);
});

Deno.test({
  name: "remote: a second executor with the same id waits until the first is gone, then takes over",
  timeout: 30_000,
}, async () => {
  await using rendezvous = await startRendezvousProcess({ token: TOKEN });
  await using first = await startRemoteProcess(rendezvous.firstLine, "e2e-twin", { token: TOKEN });
  // Another process (another idempotency id) may not take a connected executor's id: it is
  // refused with 409 executor_id_in_use and keeps retrying.
  await using second = await startRemoteProcess(rendezvous.firstLine, "e2e-twin", {
    token: TOKEN,
    wait: false,
    env: {
      CODEX_EXEC_SERVER_REMOTE_INITIAL_BACKOFF_MS: "100",
      CODEX_EXEC_SERVER_REMOTE_MAX_BACKOFF_MS: "200",
    },
  });
  await second.waitForStderr("executor_id_in_use", 10_000);
  {
    await using client = await harnessClient(rendezvous.firstLine, "e2e-twin", TOKEN);
    await start(client, "p", "echo first");
    assert.equal((await readToClose(client, "p")).stdout, "first\n");
    await client.close();
  }
  assert.doesNotMatch(first.stderr(), /replaced this one/);
  assert.equal((await first.stop()).code, 0);
  await second.waitForStderr("connected to the rendezvous", 10_000);
  await using client = await harnessClient(rendezvous.firstLine, "e2e-twin", TOKEN);
  await start(client, "p", "echo twin");
  assert.equal((await readToClose(client, "p")).stdout, "twin\n");
  await client.close();
  assert.equal((await second.stop()).code, 0);
});
