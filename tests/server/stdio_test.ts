import assert from "node:assert/strict";
import { b64text, isAlive, spawnMain, TestClient, until } from "../_harness.ts";

Deno.test({
  name: "stdio: JSON lines in and out, malformed lines answered, exit on EOF kills children",
  timeout: 15_000,
}, async () => {
  const child = spawnMain(["serve", "--listen", "stdio"]);
  const stderrDone = child.stderr.pipeTo(new WritableStream());
  const client = TestClient.overStdio(child);
  await client.sendRaw("   ");
  await client.sendRaw("{oops");
  const error = await client.waitFor((m) => m.id === -1);
  assert.equal((error.error as { code: number }).code, -32600);
  assert.match(
    (error.error as { message: string }).message,
    /^failed to parse JSON-RPC message from exec-server stdio: /,
  );
  const init = await client.initialize();
  assert.equal(typeof init.sessionId, "string");
  await client.call("process/start", {
    processId: "s",
    argv: ["/bin/sh", "-c", "echo $$; exec sleep 60"],
    cwd: "/tmp",
    env: {},
    tty: false,
  });
  const out = await client.waitFor((m) => m.method === "process/output");
  const pid = Number(b64text((out.params as { chunk: string }).chunk).trim());
  assert.ok(isAlive(pid));
  client.transport.close();
  const status = await child.status;
  assert.equal(status.code, 0);
  await until(3000, "child killed at stdin EOF", () => !isAlive(pid));
  await client.close();
  await stderrDone.catch(() => {});
});

Deno.test({
  name: "stdio: a line over 64 MiB is refused without closing the connection",
  timeout: 15_000,
}, async () => {
  const child = spawnMain(["serve", "--listen", "stdio"]);
  const stderrDone = child.stderr.pipeTo(new WritableStream());
  const client = TestClient.overStdio(child);
  const big = "x".repeat(64 * 1024 * 1024 + 10);
  await client.sendRaw(big);
  const error = await client.waitFor((m) => m.id === -1, 20_000);
  assert.equal((error.error as { code: number }).code, -32600);
  assert.match((error.error as { message: string }).message, /limit/);
  await client.initialize();
  assert.deepEqual(await client.call("environment/status"), { status: "ready" });
  client.transport.close();
  assert.equal((await child.status).code, 0);
  await client.close();
  await stderrDone.catch(() => {});
});
