import assert from "node:assert/strict";
import { startServer, TestClient, within } from "../_harness.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

Deno.test({
  name: "websocket envelope: malformed input is answered with id -1 and the connection survives",
  timeout: 15_000,
}, async () => {
  await using server = await startServer();
  await using client = await TestClient.connect(server.url);
  await client.sendRaw("not-json");
  const error = await client.waitFor((m) => m.id === -1);
  const body = error.error as { code: number; message: string };
  assert.deepEqual(body.code, -32600);
  assert.ok(
    body.message.startsWith(
      "failed to parse websocket JSON-RPC message from exec-server websocket",
    ),
    body.message,
  );
  await client.sendRaw("[1,2]");
  await client.sendRaw('{"id":null,"method":"x"}');
  await client.waitFor((m) =>
    m.id === -1 && client.received.filter((r) => r.id === -1).length === 3
  );
  const init = await client.initialize();
  assert.match(init.sessionId as string, UUID);
});

Deno.test({
  name: "websocket envelope: binary frames are accepted and ids echo with their JSON type",
  timeout: 15_000,
}, async () => {
  await using server = await startServer();
  const socket = new WebSocket(server.url);
  await within(5000, "the websocket to open", new Promise((r) => (socket.onopen = r)));
  const replies: string[] = [];
  const twoReplies = Promise.withResolvers<void>();
  socket.onmessage = (e) => {
    if (replies.push(e.data as string) === 2) twoReplies.resolve();
  };
  socket.send(
    new TextEncoder().encode('{"id":"abc","method":"initialize","params":{"clientName":"x"}}'),
  );
  socket.send('{"jsonrpc":"2.0","method":"initialized","params":{}}');
  socket.send('{"jsonrpc":"2.0","id":7,"method":"environment/status"}');
  await within(5000, "replies to initialize and environment/status", twoReplies.promise);
  const [first, second] = replies.map((r) => JSON.parse(r));
  assert.deepEqual(first.id, "abc");
  assert.deepEqual(second, { id: 7, result: { status: "ready" } });
  for (const reply of replies) assert.ok(!reply.includes("jsonrpc"), reply);
  assert.ok(replies[1].startsWith('{"id":7,"result"'), "member order id, result");
  const closed = new Promise((r) => (socket.onclose = r));
  socket.close();
  await within(5000, "the websocket to close", closed);
});

Deno.test({
  name: "websocket envelope: pipelined requests are answered in order",
  timeout: 15_000,
}, async () => {
  await using server = await startServer();
  await using client = await TestClient.connect(server.url);
  await client.initialize();
  await client.sendRaw('{"id":2,"method":"environment/info"}');
  await client.sendRaw('{"id":3,"method":"environment/info","params":null}');
  await client.sendRaw('{"id":4,"method":"environment/status","params":{}}');
  await client.waitFor((m) => m.id === 4);
  const ids = client.received.filter((m) => typeof m.id === "number" && m.id >= 2).map((m) => m.id);
  assert.deepEqual(ids, [2, 3, 4]);
  assert.deepEqual(client.received.at(-1), { id: 4, result: { status: "ready" } });
  const info = client.received.find((m) => m.id === 2)!.result as Record<string, unknown>;
  assert.deepEqual(info.platformOs, "linux");
  assert.ok((info.cwd as string).startsWith("file:///"));
  assert.deepEqual(typeof (info.shell as { path: string }).path, "string");
  assert.deepEqual((info.capabilities as Record<string, boolean>).networkProxyLaunch, false);
});

Deno.test({
  name: "websocket envelope: unknown method is -32601 even before initialize",
  timeout: 15_000,
}, async () => {
  await using server = await startServer();
  await using client = await TestClient.connect(server.url);
  const reply = await client.request("foo/bar", {});
  assert.deepEqual(reply.error, {
    code: -32601,
    message: "exec-server stub does not implement `foo/bar` yet",
  });
});

Deno.test({
  name: "websocket envelope: an unknown notification closes the connection",
  timeout: 15_000,
}, async () => {
  await using server = await startServer();
  const client = await TestClient.connect(server.url);
  await client.initialize();
  await client.notify("something/else", {});
  await within(5000, "the server to close the connection", client.transport.closed);
  await client.close();
});

Deno.test({
  name: "websocket envelope: a client response with no pending request closes the connection",
  timeout: 15_000,
}, async () => {
  await using server = await startServer();
  const client = await TestClient.connect(server.url);
  await client.sendRaw('{"id":99,"result":{}}');
  await within(5000, "the server to close the connection", client.transport.closed);
  await client.close();
});

Deno.test({
  name: "websocket envelope: a message over 64 MiB is refused",
  timeout: 15_000,
}, async () => {
  await using server = await startServer();
  const client = await TestClient.connect(server.url);
  const huge = `{"id":1,"method":"environment/status","params":{"pad":"${
    "x".repeat(64 * 1024 * 1024 + 16)
  }"}}`;
  await client.sendRaw(huge).catch(() => {});
  await within(15_000, "the server to close the connection", client.transport.closed);
  await client.close();
  // The server is still healthy for others.
  await using other = await TestClient.connect(server.url);
  await other.initialize();
  assert.deepEqual(await other.call("environment/status"), { status: "ready" });
});
