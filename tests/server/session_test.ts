import assert from "node:assert/strict";
import {
  b64text,
  fileUri,
  isAlive,
  readToClose,
  startServer,
  TestClient,
  textb64,
  until,
} from "../_harness.ts";

const ENV = { PATH: "/usr/local/bin:/usr/bin:/bin" };
const CWD = fileUri("/tmp");

async function connected(url: string, resume?: string): Promise<[TestClient, string]> {
  const client = await TestClient.connect(url);
  const result = await client.initialize(resume);
  return [client, result.sessionId as string];
}

Deno.test({
  name: "session: resume after a disconnect during a long poll",
  timeout: 30_000,
}, async () => {
  await using server = await startServer();
  const [first, sessionId] = await connected(server.url);
  // The process prints only when told to (stdin), and the old long poll waits 60 s, twice the
  // test's deadline: a resume that waited for that poll cannot finish in time (no clock needed).
  // It then waits for more input it never gets, so the terminate below meets a running process
  // whatever the load (a process exiting on its own would race the terminate).
  await first.call("process/start", {
    processId: "late",
    argv: ["/bin/sh", "-c", "read go; printf late; read never"],
    cwd: CWD,
    env: ENV,
    tty: false,
    pipeStdin: true,
  });
  await first.sendRaw(JSON.stringify({
    id: 50,
    method: "process/read",
    params: { processId: "late", waitMs: 60_000 },
  }));
  await first.close();
  const [second, resumed] = await connected(server.url, sessionId);
  assert.equal(resumed, sessionId);
  assert.deepEqual(
    await second.call("process/write", { processId: "late", chunk: textb64("go\n"), writeId: "g" }),
    { status: "accepted" },
  );
  const read = await second.call("process/read", { processId: "late", waitMs: 5000 });
  assert.equal(b64text((read.chunks as { chunk: string }[])[0].chunk), "late");
  // terminate works on the resumed session: it kills the process (SIGKILL: 137), and once the
  // exit is known a second terminate finds nothing running.
  assert.deepEqual(await second.call("process/terminate", { processId: "late" }), {
    running: true,
  });
  const killed = await readToClose(second, "late");
  assert.equal(killed.exitCode, 137);
  assert.deepEqual(await second.call("process/terminate", { processId: "late" }), {
    running: false,
  });
  await second.close();
});

Deno.test({
  name: "session: resuming a session that is attached elsewhere is -32010",
  timeout: 15_000,
}, async () => {
  await using server = await startServer();
  const [first, sessionId] = await connected(server.url);
  await using second = await TestClient.connect(server.url);
  const reply = await second.request("initialize", { clientName: "t", resumeSessionId: sessionId });
  assert.deepEqual(reply.error, {
    code: -32010,
    message: `session ${sessionId} is already attached to another connection`,
  });
  await first.close();
  await until(10_000, "resume once the first connection is gone", async () => {
    const retry = await second.request("initialize", {
      clientName: "t",
      resumeSessionId: sessionId,
    });
    return !("error" in retry);
  });
});

Deno.test({
  name: "session: a detached session expires after its TTL and its processes are killed",
  timeout: 15_000,
}, async () => {
  await using server = await startServer({ env: { CODEX_EXEC_SERVER_SESSION_TTL_MS: "300" } });
  const [client, sessionId] = await connected(server.url);
  await client.call("process/start", {
    processId: "sleeper",
    argv: ["/bin/sh", "-c", "echo $$; exec sleep 30"],
    cwd: CWD,
    env: ENV,
    tty: false,
  });
  const out = await client.waitFor((m) => m.method === "process/output");
  const pid = Number(b64text((out.params as { chunk: string }).chunk).trim());
  assert.ok(isAlive(pid));
  await client.close();
  await until(5000, "expired session's process killed", () => !isAlive(pid));
  await using late = await TestClient.connect(server.url);
  const reply = await late.request("initialize", { clientName: "t", resumeSessionId: sessionId });
  assert.deepEqual(reply.error, { code: -32600, message: `unknown session id ${sessionId}` });
});

Deno.test({
  name: "session: a process keeps running while detached; missed output is read back gap-free",
  timeout: 30_000,
}, async () => {
  await using server = await startServer();
  const dir = Deno.makeTempDirSync();
  const [first, sessionId] = await connected(server.url);
  const script = `echo ready:$$; while [ ! -e ${dir}/go ]; do sleep 0.02; done; ` +
    `echo during:$$; IFS= read line; echo after:$$:$line; exit 7`;
  await first.call("process/start", {
    processId: "p",
    argv: ["/bin/sh", "-c", script],
    cwd: CWD,
    env: ENV,
    tty: false,
    pipeStdin: true,
  });
  const ready = await first.waitFor((m) => m.method === "process/output");
  const lastSeen = (ready.params as { seq: number }).seq;
  const pid = b64text((ready.params as { chunk: string }).chunk).trim().split(":")[1];
  await first.close();
  Deno.writeTextFileSync(`${dir}/go`, "");
  await new Promise((r) => setTimeout(r, 200));
  const [second] = await connected(server.url, sessionId);
  const missed = await second.call("process/read", { processId: "p", afterSeq: lastSeen });
  assert.equal(
    (missed.chunks as { chunk: string }[]).map((c) => b64text(c.chunk)).join(""),
    `during:${pid}\n`,
  );
  assert.deepEqual(
    await second.call("process/write", { processId: "p", chunk: textb64("x\n"), writeId: "w" }),
    { status: "accepted" },
  );
  await second.waitFor((m) => m.method === "process/closed");
  const events = second.received.filter((m) =>
    typeof m.method === "string" && m.method.startsWith("process/")
  ).map((m) => m.params as { seq: number; exitCode?: number; chunk?: string });
  const seqs = events.map((e) => e.seq);
  const expectedStart = (missed.chunks as { seq: number }[]).at(-1)!.seq + 1;
  assert.deepEqual(seqs, seqs.map((_, i) => expectedStart + i), "gap-free after resume");
  assert.equal(b64text(events[0].chunk!), `after:${pid}:x\n`);
  assert.equal(events.at(-2)!.exitCode, 7);
  await second.close();
});
