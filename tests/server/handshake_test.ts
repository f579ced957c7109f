import assert from "node:assert/strict";
import { type RpcCallError, startServer, TestClient, within } from "../_harness.ts";

const FAMILIES: [string, unknown, string][] = [
  ["process/start", { processId: "p", argv: ["true"], cwd: "/", env: {}, tty: false }, "exec"],
  ["fs/readFile", { path: "file:///etc/hostname" }, "filesystem"],
  ["http/request", { method: "GET", url: "http://127.0.0.1:1/", requestId: "r" }, "http"],
  ["environment/info", undefined, "environment info"],
  ["environment/status", undefined, "environment status"],
];

async function expectError(client: TestClient, method: string, params: unknown) {
  const reply = await client.request(method, params);
  return reply.error as { code: number; message: string };
}

Deno.test({
  name: "handshake: gated methods name their family before initialize and before initialized",
  timeout: 15_000,
}, async () => {
  await using server = await startServer();
  await using client = await TestClient.connect(server.url);
  for (const [method, params, family] of FAMILIES) {
    const error = await expectError(client, method, params);
    if (error.code === -32601) continue; // a method family this build does not serve yet
    assert.deepEqual(error, {
      code: -32600,
      message: `client must call initialize before using ${family} methods`,
    });
  }
  await client.call("initialize", { clientName: "t" });
  for (const [method, params, family] of FAMILIES) {
    const error = await expectError(client, method, params);
    if (error.code === -32601) continue;
    assert.deepEqual(error, {
      code: -32600,
      message: `client must send initialized before using ${family} methods`,
    });
  }
  await client.notify("initialized", {});
  assert.deepEqual(await client.call("environment/status"), { status: "ready" });
});

Deno.test({
  name: "handshake: initialize twice is refused and a failed initialize can be retried",
  timeout: 15_000,
}, async () => {
  await using server = await startServer();
  await using client = await TestClient.connect(server.url);
  const bad = await expectError(client, "initialize", {
    clientName: "t",
    resumeSessionId: "00000000-0000-4000-8000-000000000000",
  });
  assert.deepEqual(bad, {
    code: -32600,
    message: "unknown session id 00000000-0000-4000-8000-000000000000",
  });
  await client.call("initialize", { clientName: "t" });
  const again = await expectError(client, "initialize", { clientName: "t" });
  assert.deepEqual(again, {
    code: -32600,
    message: "initialize may only be sent once per connection",
  });
});

Deno.test({
  name: "handshake: initialize params are validated like upstream",
  timeout: 15_000,
}, async () => {
  await using server = await startServer();
  await using client = await TestClient.connect(server.url);
  assert.deepEqual(await expectError(client, "initialize", {}), {
    code: -32602,
    message: "missing field `clientName`",
  });
  const ok = await client.call("initialize", { clientName: "t" });
  assert.equal(typeof ok.sessionId, "string");
  assert.equal((ok.environmentInfo as { platformOs: string }).platformOs, "linux");
});

Deno.test({
  name: "handshake: initialized before initialize closes the connection",
  timeout: 15_000,
}, async () => {
  await using server = await startServer();
  const client = await TestClient.connect(server.url);
  await client.notify("initialized", {});
  await within(5000, "the server to close the connection", client.transport.closed);
  await client.close();
});

Deno.test({
  name: "handshake: unit params accept absent, null and {} but not a non-empty map",
  timeout: 15_000,
}, async () => {
  await using server = await startServer();
  await using client = await TestClient.connect(server.url);
  await client.initialize();
  for (const params of [undefined, null, {}]) {
    assert.deepEqual(await client.call("environment/status", params), { status: "ready" });
  }
  await assert.rejects(
    client.call("environment/info", { a: 1 }),
    (e: RpcCallError) => e.code === -32602,
  );
});

Deno.test({
  name: "environment info carries a stable providerId and an empty prependPathDirs",
  timeout: 30_000,
}, async () => {
  const ids: string[] = [];
  for (let run = 0; run < 2; run++) {
    await using server = await startServer({ env: { CODEX_HOME: `/tmp/handshake-home-${run}` } });
    await using client = await TestClient.connect(server.url);
    const { environmentInfo } = await client.initialize() as {
      environmentInfo: { providerId: string; prependPathDirs: string[] };
    };
    assert.match(environmentInfo.providerId, /^sha256:[0-9a-f]{64}$/);
    assert.deepEqual(environmentInfo.prependPathDirs, []);
    const info = await client.call("environment/info");
    assert.equal(info.providerId, environmentInfo.providerId);
    ids.push(environmentInfo.providerId);
  }
  assert.equal(ids[0], ids[1], "the same host gives the same id across restarts and homes");
});
