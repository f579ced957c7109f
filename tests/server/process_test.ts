import assert from "node:assert/strict";
import {
  b64text,
  fileUri,
  isAlive,
  liveGroupMembers,
  readToClose,
  type RpcCallError,
  startServer,
  TestClient,
  textb64,
  until,
} from "../_harness.ts";

const ENV = { PATH: "/usr/local/bin:/usr/bin:/bin" };
const TMP = fileUri(Deno.makeTempDirSync());

function start(client: TestClient, processId: string, argv: string[], extra = {}) {
  return client.call("process/start", {
    processId,
    argv,
    cwd: TMP,
    env: ENV,
    tty: false,
    ...extra,
  });
}

async function connected(url: string): Promise<TestClient> {
  const client = await TestClient.connect(url);
  await client.initialize();
  return client;
}

Deno.test({
  name: "process: start, exact event sequence and notification order",
  timeout: 15_000,
}, async () => {
  await using server = await startServer();
  await using client = await connected(server.url);
  const started = await start(client, "events", [
    "/bin/sh",
    "-c",
    "printf 'event output\\n'; sleep 0.1; printf 'event err\\n' >&2; sleep 0.1; exit 7",
  ]);
  assert.deepEqual(started, { processId: "events", sandboxType: "none" });
  await client.waitFor((m) => m.method === "process/closed");
  const events = client.received.filter((m) =>
    typeof m.method === "string" && m.method.startsWith("process/")
  ).map((m) => ({ method: m.method, ...(m.params as Record<string, unknown>) }));
  assert.deepEqual(events, [
    {
      method: "process/output",
      processId: "events",
      seq: 1,
      stream: "stdout",
      chunk: textb64("event output\n"),
    },
    {
      method: "process/output",
      processId: "events",
      seq: 2,
      stream: "stderr",
      chunk: textb64("event err\n"),
    },
    { method: "process/exited", processId: "events", seq: 3, exitCode: 7, sandboxDenied: false },
    { method: "process/closed", processId: "events", seq: 4 },
  ]);
  const read = await client.call("process/read", { processId: "events" });
  assert.equal(read.nextSeq, 5);
  assert.equal(read.exited, true);
  assert.equal(read.exitCode, 7);
  assert.equal(read.closed, true);
  assert.equal(read.failure, null);
  assert.equal(read.sandboxDenied, false);
  assert.equal((read.chunks as unknown[]).length, 2);
});

Deno.test({
  name:
    "process: true exits 0, output is replayable after close, ids are reusable only after retention",
  timeout: 30_000,
}, async () => {
  await using server = await startServer({
    env: { CODEX_EXEC_SERVER_PROCESS_RETENTION_MS: "300" },
  });
  await using client = await connected(server.url);
  await start(client, "t", ["true"]);
  const done = await readToClose(client, "t");
  assert.equal(done.exitCode, 0);
  await start(client, "late", ["/bin/sh", "-c", "printf 'late one\\n'; printf 'late two\\n'"]);
  await readToClose(client, "late");
  const replay = await client.call("process/read", { processId: "late", afterSeq: 0 });
  const text = (replay.chunks as { chunk: string }[]).map((c) => b64text(c.chunk)).join("");
  assert.equal(text, "late one\nlate two\n");
  await assert.rejects(start(client, "late", ["true"]), (e: RpcCallError) => {
    assert.equal(e.code, -32600);
    assert.equal(e.message, "process late already exists");
    return true;
  });
  await until(3000, "retention expiry", async () => {
    const r = await client.request("process/read", { processId: "late" });
    return "error" in r;
  });
  const gone = await client.request("process/read", { processId: "late" });
  assert.deepEqual(gone.error, { code: -32600, message: "unknown process id late" });
  await start(client, "late", ["true"]);
  assert.equal((await readToClose(client, "late")).exitCode, 0);
});

Deno.test({
  name: "process: errors for empty argv, missing fields, bad cwd and missing program",
  timeout: 15_000,
}, async () => {
  await using server = await startServer();
  await using client = await connected(server.url);
  const cases: [unknown, number, string | RegExp][] = [
    [{ processId: "a", argv: [], cwd: TMP, env: {}, tty: false }, -32602, "argv must not be empty"],
    [{ argv: ["true"], cwd: TMP, env: {}, tty: false }, -32602, "missing field `processId`"],
    [{ processId: "a", argv: ["true"], cwd: TMP, env: {} }, -32602, "missing field `tty`"],
    [
      { processId: "a", argv: ["true"], cwd: "file:///does/not/exist", env: {}, tty: false },
      -32603,
      "No such file or directory (os error 2)",
    ],
    [
      { processId: "a", argv: ["no-such-program-xyz"], cwd: TMP, env: ENV, tty: false },
      -32603,
      "No such file or directory (os error 2)",
    ],
    [
      { processId: "a", argv: ["true"], cwd: "file:///C:/x", env: {}, tty: false },
      -32602,
      "cwd URI `file:///C:/x` is not valid on this exec-server host: 'file:///C:/x' is invalid on 'linux'",
    ],
    [
      { processId: "a", argv: ["true"], cwd: "relative/dir", env: {}, tty: false },
      -32602,
      /relative\/dir/,
    ],
  ];
  for (const [params, code, message] of cases) {
    const reply = await client.request("process/start", params);
    const error = reply.error as { code: number; message: string };
    assert.equal(error.code, code, JSON.stringify(params));
    if (typeof message === "string") assert.equal(error.message, message);
    else assert.match(error.message, message);
  }
  const unknownRead = await client.request("process/read", { processId: "nope" });
  assert.deepEqual(unknownRead.error, { code: -32600, message: "unknown process id nope" });
  assert.deepEqual(
    await client.call("process/write", { processId: "nope", chunk: "", writeId: "w" }),
    { status: "unknownProcess" },
  );
  const badChunk = await client.request("process/write", {
    processId: "nope",
    chunk: "!!",
    writeId: "w",
  });
  assert.deepEqual(badChunk.error, { code: -32602, message: "Invalid symbol 33, offset 0." });
  const emptyWriteId = await client.request("process/write", {
    processId: "nope",
    chunk: "",
    writeId: "",
  });
  assert.deepEqual(emptyWriteId.error, { code: -32602, message: "writeId must not be empty" });
  assert.deepEqual(await client.call("process/terminate", { processId: "nope" }), {
    running: false,
  });
  // Upstream answers `{}`; our extra `status` tells a client what happened.
  assert.deepEqual(
    await client.call("process/signal", { processId: "nope", signal: "interrupt" }),
    { status: "unknownProcess" },
  );
});

Deno.test({
  name: "process: pipe stdin, writeId de-duplication and stdinClosed",
  timeout: 15_000,
}, async () => {
  await using server = await startServer();
  await using client = await connected(server.url);
  await start(
    client,
    "cat",
    ["/bin/sh", "-c", 'IFS= read line; printf "from-stdin:%s\\n" "$line"'],
    {
      pipeStdin: true,
    },
  );
  const write = { processId: "cat", chunk: textb64("hello\n"), writeId: "w1" };
  assert.deepEqual(await client.call("process/write", write), { status: "accepted" });
  assert.deepEqual(await client.call("process/write", write), { status: "accepted" });
  const result = await readToClose(client, "cat");
  assert.equal(result.stdout, "from-stdin:hello\n");
  assert.equal(result.exitCode, 0);

  await start(client, "nostdin", [
    "/bin/sh",
    "-c",
    "sleep 0.3; if read x; then echo got; else echo eof; fi",
  ]);
  assert.deepEqual(
    await client.call("process/write", {
      processId: "nostdin",
      chunk: textb64("x\n"),
      writeId: "a",
    }),
    { status: "stdinClosed" },
  );
  const eof = await readToClose(client, "nostdin");
  assert.equal(eof.stdout, "eof\n");
});

Deno.test({
  name: "process: env is cleared unless envPolicy; arg0 overrides argv[0]",
  timeout: 15_000,
}, async () => {
  await using server = await startServer({ env: { SERVER_ONLY_VAR: "server", MY_API_KEY: "k" } });
  await using client = await connected(server.url);
  await start(client, "env", ["/usr/bin/env"], { env: { ONLY: "1" } });
  assert.equal((await readToClose(client, "env")).stdout, "ONLY=1\n");
  await start(client, "policy", ["/usr/bin/env"], {
    env: { EXTRA: "x" },
    envPolicy: {
      inherit: "all",
      ignoreDefaultExcludes: false,
      exclude: [],
      set: { S: "s" },
      includeOnly: [],
    },
  });
  const out = (await readToClose(client, "policy")).stdout;
  assert.match(out, /^SERVER_ONLY_VAR=server$/m);
  assert.match(out, /^S=s$/m);
  assert.match(out, /^EXTRA=x$/m);
  assert.doesNotMatch(out, /MY_API_KEY/);
  await start(client, "arg0", ["/bin/bash", "-c", 'echo "$0"'], { arg0: "custom-name" });
  // bash -c reports $0 from its own argv; arg0 replaces argv[0] of the executed program.
  await start(client, "arg0b", ["/bin/sh", "-c", "cat /proc/$$/cmdline | tr '\\0' ' '"], {
    arg0: "renamed-sh",
  });
  assert.match((await readToClose(client, "arg0b")).stdout, /^renamed-sh -c/);
  await readToClose(client, "arg0");
});

Deno.test({
  name: "process: interrupt reaches a trap; terminate kills the whole group",
  timeout: 15_000,
}, async () => {
  await using server = await startServer();
  await using client = await connected(server.url);
  await start(client, "trap", [
    "/bin/sh",
    "-c",
    `trap 'printf "signal:2\\n"; exit 7' INT; printf 'ready\\n'; while :; do sleep 0.01; done`,
  ]);
  await client.waitFor((m) => m.method === "process/output");
  assert.deepEqual(
    await client.call("process/signal", { processId: "trap", signal: "interrupt" }),
    { status: "accepted" },
  );
  const trapped = await readToClose(client, "trap");
  assert.match(trapped.stdout, /signal:2/);
  assert.equal(trapped.exitCode, 7);

  await start(client, "tree", ["/bin/sh", "-c", "sleep 30 & sleep 30 & echo $$; wait"]);
  const first = await client.waitFor((m) =>
    m.method === "process/output" && (m.params as { processId: string }).processId === "tree"
  );
  const pid = Number(b64text((first.params as { chunk: string }).chunk).trim());
  assert.deepEqual(await client.call("process/terminate", { processId: "tree" }), {
    running: true,
  });
  const killed = await readToClose(client, "tree");
  assert.equal(killed.exitCode, 137);
  await until(3000, "group leader gone", () => !isAlive(pid));
  await until(3000, "the whole group gone", () => liveGroupMembers(pid).length === 0);
  assert.deepEqual(await client.call("process/terminate", { processId: "tree" }), {
    running: false,
  });
});

Deno.test({
  name: "process: read algorithm with maxBytes, long poll and output after exit",
  timeout: 15_000,
}, async () => {
  await using server = await startServer();
  await using client = await connected(server.url);
  await start(client, "chunks", [
    "/bin/sh",
    "-c",
    "printf aaaa; sleep 0.1; printf bb; sleep 0.1; printf c",
  ]);
  await readToClose(client, "chunks");
  const small = await client.call("process/read", { processId: "chunks", maxBytes: 1 });
  assert.equal((small.chunks as unknown[]).length, 1);
  assert.equal(small.nextSeq, 2);
  const two = await client.call("process/read", { processId: "chunks", afterSeq: 0, maxBytes: 6 });
  assert.deepEqual((two.chunks as { chunk: string }[]).map((c) => b64text(c.chunk)), [
    "aaaa",
    "bb",
  ]);
  assert.equal(two.nextSeq, 3);

  const t0 = Date.now();
  await start(client, "slow", ["/bin/sh", "-c", "sleep 0.3; printf later"]);
  const polled = await client.call("process/read", { processId: "slow", waitMs: 5000 });
  assert.ok(Date.now() - t0 >= 250, "long poll waited for output");
  assert.equal(b64text((polled.chunks as { chunk: string }[])[0].chunk), "later");

  const dir = Deno.makeTempDirSync();
  await start(client, "bg", [
    "/bin/sh",
    "-c",
    `(while [ ! -e ${dir}/go ]; do sleep 0.02; done; printf 'late output after exit\\n') &`,
  ]);
  const first = await client.call("process/read", { processId: "bg", waitMs: 2000 });
  assert.deepEqual(first.chunks, []);
  assert.equal(first.exitCode, 0);
  assert.equal(first.closed, false);
  Deno.writeTextFileSync(`${dir}/go`, "");
  const late = await client.call("process/read", {
    processId: "bg",
    afterSeq: (first.nextSeq as number) - 1,
    waitMs: 5000,
  });
  assert.equal(b64text((late.chunks as { chunk: string }[])[0].chunk), "late output after exit\n");
  const closed = await readToClose(client, "bg");
  assert.equal(closed.exitCode, 0);
});

Deno.test({
  name: "process: output arrives while the child runs, from a quiet child and a chatty one",
  timeout: 20_000,
}, async () => {
  await using server = await startServer();
  await using client = await connected(server.url);
  const dir = Deno.makeTempDirSync();
  const waitForGo = `while [ ! -e ${dir}/go ]; do sleep 0.01; done`;
  // A few lines, then the child waits for us: they must arrive before it can exit.
  await start(client, "quiet", [
    "/bin/sh",
    "-c",
    `echo one; echo two >&2; ${waitForGo}; echo three`,
  ]);
  await client.waitFor((m) =>
    m.method === "process/output" && (m.params as { processId: string }).processId === "quiet" &&
    b64text((m.params as { chunk: string }).chunk).includes("two")
  );
  // Hundreds of separate writes (many poller rounds), then a line that must also arrive while
  // the child still runs.
  await start(client, "chatty", [
    "/bin/sh",
    "-c",
    `i=0; while [ $i -lt 300 ]; do echo line$i; i=$((i+1)); done; echo waiting; ${waitForGo}`,
  ]);
  await client.waitFor((m) =>
    m.method === "process/output" && (m.params as { processId: string }).processId === "chatty" &&
    b64text((m.params as { chunk: string }).chunk).includes("waiting")
  );
  assert.ok(
    !client.received.some((m) => m.method === "process/exited"),
    "no child has exited before it was let go",
  );
  Deno.writeTextFileSync(`${dir}/go`, "");
  const quiet = await readToClose(client, "quiet");
  const chatty = await readToClose(client, "chatty");
  assert.equal(quiet.stdout, "one\nthree\n");
  assert.equal(quiet.stderr, "two\n");
  const lines = Array.from({ length: 300 }, (_, i) => `line${i}\n`).join("");
  assert.equal(chatty.stdout, `${lines}waiting\n`);
  assert.deepEqual([quiet.exitCode, chatty.exitCode], [0, 0]);
});

Deno.test({
  name: "process: two concurrent starts with one id: exactly one succeeds",
  timeout: 15_000,
}, async () => {
  await using server = await startServer({ args: ["--concurrent-requests", "4"] });
  await using client = await connected(server.url);
  const params = { processId: "proc-1", argv: ["sleep", "0.2"], cwd: TMP, env: ENV, tty: false };
  const replies = await Promise.all([
    client.request("process/start", params),
    client.request("process/start", params),
  ]);
  const errors = replies.filter((r) => "error" in r).map((r) => r.error);
  assert.equal(errors.length, 1);
  assert.deepEqual(errors[0], { code: -32600, message: "process proc-1 already exists" });
  await readToClose(client, "proc-1");
});

Deno.test({
  name: "process: output is retained up to 1 MiB when nobody reads",
  timeout: 15_000,
}, async () => {
  await using server = await startServer();
  await using client = await connected(server.url);
  await start(client, "big", ["/bin/sh", "-c", "head -c 3000000 /dev/zero"]);
  await client.waitFor((m) => m.method === "process/closed", 10_000);
  const outputs = client.notifications("process/output");
  const total = outputs.reduce((n, o) => n + atob(o.chunk as string).length, 0);
  assert.equal(total, 3_000_000, "every byte was notified");
  for (const o of outputs) assert.ok(atob(o.chunk as string).length <= 8192);
  const seqs = outputs.map((o) => o.seq as number);
  assert.deepEqual(seqs, seqs.map((_, i) => i + 1));
  const replay = await client.call("process/read", { processId: "big", afterSeq: 0 });
  const retained = (replay.chunks as { chunk: string }[]).reduce(
    (n, c) => n + atob(c.chunk).length,
    0,
  );
  assert.ok(retained <= 1024 * 1024 && retained > 1000 * 1024, `retained ${retained}`);
});

Deno.test({
  name: "process: terminate right after start reaches the child (no setsid race)",
  timeout: 15_000,
}, async () => {
  await using server = await startServer();
  await using client = await connected(server.url);
  for (let i = 0; i < 10; i++) {
    const id = `quick-${i}`;
    await start(client, id, ["sleep", "30"]);
    assert.deepEqual(await client.call("process/terminate", { processId: id }), { running: true });
    const done = await readToClose(client, id, 5000);
    assert.notEqual(done.exitCode, 0);
  }
});

Deno.test({
  name: "process: arg0 adds nothing to the child's environment",
  timeout: 15_000,
}, async () => {
  await using server = await startServer();
  await using client = await connected(server.url);
  await start(client, "a0", ["/usr/bin/env"], { env: { ONLY: "1" }, arg0: "my-env" });
  const lines = (await readToClose(client, "a0")).stdout.trim().split("\n").filter((l) =>
    !l.startsWith("_=")
  );
  assert.deepEqual(lines, ["ONLY=1"]);
});

Deno.test({
  name:
    "process: inline mode answers in order behind a long poll; --concurrent-requests does not wait",
  timeout: 15_000,
}, async () => {
  for (const [args, expectFirst] of [[[], 1], [["--concurrent-requests", "2"], 2]] as const) {
    await using server = await startServer({ args: [...args] });
    await using client = await connected(server.url);
    await start(client, "quiet", ["sleep", "0.5"]);
    const order: number[] = [];
    const poll = client.request("process/read", { processId: "quiet", afterSeq: 0, waitMs: 400 })
      .then(() => order.push(1));
    const status = client.request("environment/status").then(() => order.push(2));
    await Promise.all([poll, status]);
    assert.equal(order[0], expectFirst, `args ${args.join(" ")}: ${order}`);
    await readToClose(client, "quiet");
  }
});
