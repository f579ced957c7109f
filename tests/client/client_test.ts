import assert from "node:assert/strict";
import {
  ConnectError,
  type Connector,
  DisconnectedError,
  type ExecProcess,
  ExecServerClient,
  ProcessFailedError,
  stdioConnector,
  websocketConnector,
} from "../../lib/client/mod.ts";
import type { MessageTransport } from "../../lib/transport/types.ts";
import { liveGroupMembers, ROOT, startServer, until } from "../_harness.ts";
import { startTcpProxy } from "../_tcp_proxy.ts";

const decoder = new TextDecoder();

async function collect(proc: ExecProcess): Promise<{ stdout: string; stderr: string }> {
  let stdout = "", stderr = "";
  for await (const chunk of proc) {
    if (chunk.stream === "stderr") stderr += decoder.decode(chunk.data);
    else stdout += decoder.decode(chunk.data);
  }
  return { stdout, stderr };
}

/** Wraps a connector so every message the client sends is recorded. */
function recording(inner: Connector, sent: Record<string, unknown>[]): Connector {
  return {
    ...inner,
    async open(options) {
      const transport = await inner.open(options);
      const wrapped: MessageTransport = {
        label: transport.label,
        receive: () => transport.receive(),
        send(text) {
          sent.push(JSON.parse(text));
          return transport.send(text);
        },
        close: () => transport.close(),
        closed: transport.closed,
      };
      return wrapped;
    },
  };
}

function lines(from: number, to: number): string {
  let text = "";
  for (let i = from; i <= to; i++) text += `line ${i}\n`;
  return text;
}

Deno.test({
  name: "a process's stdout and stderr arrive separately and in order, with its exit code",
  timeout: 15_000,
}, async () => {
  await using server = await startServer();
  await using client = await ExecServerClient.connect(server.url);
  assert.match(client.sessionId, /^[0-9a-f-]{36}$/);
  const proc = await client.start([
    "sh",
    "-c",
    "echo out1; echo err1 >&2; echo out2; echo err2 >&2; exit 7",
  ]);
  const { stdout, stderr } = await collect(proc);
  assert.equal(stdout, "out1\nout2\n");
  assert.equal(stderr, "err1\nerr2\n");
  assert.equal(await proc.wait(), 7);
  assert.equal(proc.exitCode, 7);
});

Deno.test({
  name: "stdin is written with a fresh writeId per write and closeStdin delivers EOF",
  timeout: 15_000,
}, async () => {
  await using server = await startServer();
  const sent: Record<string, unknown>[] = [];
  await using client = await ExecServerClient.connect(
    recording(websocketConnector(server.url), sent),
  );
  assert.equal(client.hasCapability("processCloseStdin"), true);
  const proc = await client.start(["sh", "-c", "cat; echo eof-seen"]);
  assert.equal(await proc.write("a\n"), "accepted");
  assert.equal(await proc.write("b\n"), "accepted");
  await proc.closeStdin();
  assert.equal((await collect(proc)).stdout, "a\nb\neof-seen\n");
  assert.equal(await proc.wait(), 0);
  const writeIds = sent.filter((m) => m.method === "process/write")
    .map((m) => (m.params as { writeId: string }).writeId);
  assert.equal(writeIds.length, 2);
  assert.notEqual(writeIds[0], writeIds[1]);
  assert.ok(writeIds.every((id) => id.length > 0));
});

Deno.test({
  name: "a websocket cut mid-command is recovered: output complete, exactly once",
  timeout: 30_000,
}, async () => {
  await using server = await startServer();
  await using proxy = startTcpProxy(server.url);
  const states: string[] = [];
  await using client = await ExecServerClient.connect(proxy.url, {
    onStateChange: (state) => states.push(state),
  });
  const proc = await client.start([
    "sh",
    "-c",
    "for i in $(seq 1 40); do echo line $i; sleep 0.02; done; exit 3",
  ]);
  let stdout = "";
  let cut = false;
  for await (const chunk of proc) {
    stdout += decoder.decode(chunk.data);
    if (!cut && stdout.includes("line 5\n")) {
      cut = true;
      proxy.cut();
    }
  }
  assert.equal(stdout, lines(1, 40));
  assert.equal(await proc.wait(), 3);
  assert.equal(client.recoveryStats.count, 1);
  console.log(`recovered in ${client.recoveryStats.lastMs?.toFixed(1)} ms`);
  assert.deepEqual(states, ["recovering", "connected"]);
  assert.ok(proxy.accepted >= 2);
});

Deno.test({
  name: "calls made while the link is down wait for recovery; the write lands once",
  timeout: 15_000,
}, async () => {
  await using server = await startServer();
  await using proxy = startTcpProxy(server.url);
  const sent: Record<string, unknown>[] = [];
  await using client = await ExecServerClient.connect(
    recording(websocketConnector(proxy.url), sent),
  );
  const proc = await client.start(["sh", "-c", "echo ready; read line; echo got:$line"]);
  const output = collect(proc);
  // Down for a while: reconnects are refused, so the write has to wait.
  proxy.refuse = true;
  proxy.cut();
  const write = proc.write("hello\n");
  setTimeout(() => proxy.refuse = false, 400);
  assert.equal(await write, "accepted");
  assert.equal((await output).stdout, "ready\ngot:hello\n");
  assert.equal(await proc.wait(), 0);
  const writes = sent.filter((m) => m.method === "process/write");
  // Any resend after the reconnect reuses the id, so the server writes it once.
  assert.equal(new Set(writes.map((m) => (m.params as { writeId: string }).writeId)).size, 1);
});

Deno.test({
  name: "output evicted while disconnected fails the process with events_evicted",
  timeout: 60_000,
}, async () => {
  await using server = await startServer();
  await using proxy = startTcpProxy(server.url);
  await using client = await ExecServerClient.connect(proxy.url);
  // The burst must be read by the server while it still thinks the client is there (a
  // detached session pauses the pipe instead of evicting): black-hole the link, wait until
  // the process says the 3 MB went out, then cut. Events, not a sleep, so load cannot reorder it.
  const dir = await Deno.makeTempDir();
  const done = `${dir}/burst-done`;
  const proc = await client.start([
    "sh",
    "-c",
    `echo ready; read x; head -c 3000000 /dev/zero | tr '\\0' x; : > '${done}'; sleep 30`,
  ]);
  const iterator = proc[Symbol.asyncIterator]();
  assert.equal(decoder.decode((await iterator.next()).value!.data), "ready\n");
  await proc.write("go\n");
  // The write is answered over the link before it is frozen, so "go" reached the process.
  proxy.freeze();
  await until(20_000, "the 3 MB burst was read by the server", async () => {
    try {
      await Deno.stat(done);
      return true;
    } catch {
      return false;
    }
  });
  proxy.cut();
  await assert.rejects(
    async () => {
      for (;;) if ((await iterator.next()).done) break;
    },
    (err: unknown) =>
      err instanceof ProcessFailedError && err.code === "events_evicted" &&
      /no longer retained/.test(err.message),
  );
  await assert.rejects(proc.wait(), ProcessFailedError);
  await Deno.remove(dir, { recursive: true });
});

Deno.test({
  name: "recovery gives up after its budget and fails processes and calls",
  timeout: 30_000,
}, async () => {
  await using server = await startServer();
  await using proxy = startTcpProxy(server.url);
  await using client = await ExecServerClient.connect(proxy.url, { recoveryTimeoutMs: 400 });
  const proc = await client.start(["sleep", "30"]);
  proxy.refuse = true;
  proxy.cut();
  await assert.rejects(proc.wait(), (err: unknown) => {
    assert.ok(err instanceof ProcessFailedError);
    assert.equal(err.code, "disconnected");
    assert.match(err.message, /exec-server transport disconnected/);
    return true;
  });
  await assert.rejects(
    client.status(),
    (err: unknown) => err instanceof DisconnectedError && err.code === "recovery_failed",
  );
});

Deno.test({
  name: "connect errors say what failed: unreachable, auth refused, timeouts",
  timeout: 30_000,
}, async (t) => {
  await t.step("unreachable", async () => {
    await assert.rejects(
      ExecServerClient.connect("ws://127.0.0.1:1"),
      (err: unknown) =>
        err instanceof ConnectError && err.code === "unreachable" &&
        err.message.includes("ws://127.0.0.1:1"),
    );
  });
  await t.step("auth refused, then accepted with the token", async () => {
    const dir = await Deno.makeTempDir();
    try {
      await Deno.writeTextFile(`${dir}/token`, "s3cret\n");
      await using server = await startServer({ args: ["--ws-token-file", `${dir}/token`] });
      await assert.rejects(
        ExecServerClient.connect(server.url),
        (err: unknown) => err instanceof ConnectError && err.code === "auth_refused",
      );
      await assert.rejects(
        ExecServerClient.connect(server.url, { token: "not-the-token" }),
        (err: unknown) =>
          err instanceof ConnectError && err.code === "auth_refused" &&
          !String(err.stack).includes("not-the-token"),
      );
      const client = await ExecServerClient.connect(server.url, { token: "s3cret" });
      assert.equal(await client.status(), "ready");
      await client.close();
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
  await t.step("connect timeout (the peer never answers the upgrade)", async () => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const held: Deno.Conn[] = [];
    const accepting = (async () => {
      for await (const conn of listener) held.push(conn);
    })().catch(() => {});
    try {
      await assert.rejects(
        ExecServerClient.connect(`ws://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`, {
          connectTimeoutMs: 300,
        }),
        (err: unknown) =>
          err instanceof ConnectError && err.code === "timeout" &&
          /timed out connecting to exec-server websocket/.test(err.message),
      );
    } finally {
      listener.close();
      for (const conn of held) conn.close();
      await accepting;
    }
  });
  await t.step("initialize timeout (the peer never answers initialize)", async () => {
    const sockets: WebSocket[] = [];
    const silent = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
      const { socket, response } = Deno.upgradeWebSocket(req);
      sockets.push(socket);
      return response;
    });
    try {
      await assert.rejects(
        ExecServerClient.connect(`ws://127.0.0.1:${silent.addr.port}`, {
          initializeTimeoutMs: 300,
        }),
        (err: unknown) =>
          err instanceof ConnectError && err.code === "timeout" &&
          /timed out waiting for exec-server initialize handshake/.test(err.message),
      );
    } finally {
      for (const s of sockets) s.close();
      await silent.shutdown();
    }
  });
});

Deno.test({
  name: "a stdio server runs in its own group, which is killed when the client closes",
  timeout: 15_000,
}, async () => {
  const dir = await Deno.makeTempDir();
  try {
    const script = `echo $$ > ${dir}/pid; sleep 300 & ` +
      `exec '${Deno.execPath()}' run -A '${ROOT}main.ts' serve --listen stdio`;
    const client = await ExecServerClient.connect(stdioConnector(["sh", "-c", script]));
    const proc = await client.start(["sh", "-c", "echo over-stdio"]);
    assert.equal((await collect(proc)).stdout, "over-stdio\n");
    const pgid = Number((await Deno.readTextFile(`${dir}/pid`)).trim());
    assert.ok(liveGroupMembers(pgid).length >= 2);
    await client.close();
    // The server exits on stdin EOF; its helper left in the group is killed too.
    await until(2000, "the group to die", () => liveGroupMembers(pgid).length === 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "a stdio server that ignores SIGTERM is killed after the 2 s grace",
  timeout: 30_000,
}, async () => {
  const dir = await Deno.makeTempDir();
  try {
    // The shell stays the group leader and, like its sleep, ignores SIGTERM.
    const script = `trap '' TERM; echo $$ > ${dir}/pid; ` +
      `'${Deno.execPath()}' run -A '${ROOT}main.ts' serve --listen stdio; sleep 300`;
    const client = await ExecServerClient.connect(stdioConnector(["sh", "-c", script]));
    assert.equal(await client.status(), "ready");
    const pgid = Number((await Deno.readTextFile(`${dir}/pid`)).trim());
    const started = performance.now();
    await client.close();
    const took = performance.now() - started;
    assert.ok(took >= 1900 && took < 4000, `close took ${took} ms; expected the 2 s grace`);
    await until(2000, "the group to die", () => liveGroupMembers(pgid).length === 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "a stdio command that dies before answering is reported with its stderr",
  timeout: 15_000,
}, async () => {
  await assert.rejects(
    ExecServerClient.connect(stdioConnector(["sh", "-c", "echo 'no such server' >&2; exit 3"])),
    (err: unknown) =>
      err instanceof ConnectError && err.code === "handshake_failed" &&
      err.message.includes("no such server"),
  );
});
