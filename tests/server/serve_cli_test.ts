import assert from "node:assert/strict";
import {
  b64text,
  fileUri,
  isAlive,
  liveGroupMembers,
  spawnMain,
  startServer,
  TestClient,
  until,
} from "../_harness.ts";

Deno.test({
  name: "serve: prints exactly one ws:// line on stdout; /readyz is 200",
  timeout: 15_000,
}, async () => {
  await using server = await startServer();
  assert.match(server.url, /^ws:\/\/127\.0\.0\.1:\d+$/);
  const ready = await fetch(server.url.replace("ws://", "http://") + "/readyz");
  assert.equal(ready.status, 200);
  await ready.body?.cancel();
  const status = await server.stop();
  assert.equal(status.code, 0);
});

Deno.test({
  name: "serve: upgrades with an Origin header are refused with 403",
  timeout: 15_000,
}, async () => {
  await using server = await startServer();
  const socket = new WebSocket(server.url, { headers: { origin: "https://evil.example" } });
  const outcome = await new Promise<string>((resolve) => {
    socket.onopen = () => resolve("open");
    socket.onerror = (e) => resolve((e as ErrorEvent).message);
  });
  assert.match(outcome, /403/);
});

Deno.test({
  name: "serve: --ws-token-file requires the bearer token; /readyz stays open",
  timeout: 15_000,
}, async () => {
  const tokenFile = Deno.makeTempFileSync();
  Deno.writeTextFileSync(tokenFile, "  s3cret-token\n");
  await using server = await startServer({ args: ["--ws-token-file", tokenFile] });
  for (const headers of [undefined, { authorization: "Bearer wrong" }]) {
    const socket = new WebSocket(server.url, headers ? { headers } : undefined);
    const outcome = await new Promise<string>((resolve) => {
      socket.onopen = () => resolve("open");
      socket.onerror = (e) => resolve((e as ErrorEvent).message);
    });
    assert.match(outcome, /401/);
  }
  const ready = await fetch(server.url.replace("ws://", "http://") + "/readyz");
  assert.equal(ready.status, 200);
  await ready.body?.cancel();
  await using client = await TestClient.connect(server.url, {
    authorization: "Bearer s3cret-token",
  });
  await client.initialize();
  assert.ok(!server.stderr().includes("s3cret-token"), "token never logged");
});

Deno.test({
  name: "serve: a non-loopback listener without auth refuses to start and says how to fix it",
  timeout: 15_000,
}, async () => {
  const child = spawnMain(["serve", "--listen", "ws://0.0.0.0:0"]);
  child.stdin.close();
  const out = await child.output();
  assert.equal(out.code, 2);
  const stderr = new TextDecoder().decode(out.stderr);
  assert.match(stderr, /--ws-token-file/);
  assert.equal(new TextDecoder().decode(out.stdout), "");
});

Deno.test({
  name: "serve: bad flags exit 2 with a usage hint",
  timeout: 15_000,
}, async () => {
  for (const args of [["--listen", "http://x"], ["--concurrent-requests", "0"], ["--bogus"]]) {
    const child = spawnMain(["serve", ...args]);
    child.stdin.close();
    const out = await child.output();
    assert.equal(out.code, 2, args.join(" "));
    assert.match(new TextDecoder().decode(out.stderr), /error: .*\n.*--help/);
  }
});

Deno.test({
  name: "serve: the server pings idle websocket connections",
  timeout: 15_000,
}, async () => {
  await using server = await startServer({ env: { CODEX_EXEC_SERVER_PING_INTERVAL_S: "1" } });
  const { port } = new URL(server.url);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: Number(port) });
  const key = btoa("0123456789abcdef");
  await conn.write(new TextEncoder().encode(
    `GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  ));
  const buf = new Uint8Array(4096);
  let seen = new Uint8Array(0);
  const deadline = Date.now() + 5000;
  let ping = false;
  while (!ping && Date.now() < deadline) {
    const n = await conn.read(buf);
    if (n === null) break;
    const next = new Uint8Array(seen.length + n);
    next.set(seen);
    next.set(buf.subarray(0, n), seen.length);
    seen = next;
    const text = new TextDecoder().decode(seen);
    const headerEnd = text.indexOf("\r\n\r\n");
    if (headerEnd >= 0 && seen.length > headerEnd + 4) {
      ping = (seen[headerEnd + 4] & 0x0f) === 0x9;
    }
  }
  conn.close();
  assert.ok(ping, "received a ping frame");
});

Deno.test({
  name: "serve: SIGTERM kills every managed process group and exits 0",
  timeout: 15_000,
}, async () => {
  const server = await startServer();
  const client = await TestClient.connect(server.url);
  await client.initialize();
  await client.call("process/start", {
    processId: "tree",
    argv: ["/bin/sh", "-c", "sleep 60 & echo $$; wait"],
    cwd: fileUri("/tmp"),
    env: { PATH: "/usr/bin:/bin" },
    tty: false,
  });
  const out = await client.waitFor((m) => m.method === "process/output");
  const pid = Number(b64text((out.params as { chunk: string }).chunk).trim());
  const status = await server.stop("SIGTERM");
  assert.equal(status.code, 0);
  await until(3000, "child killed on shutdown", () => !isAlive(pid));
  await until(3000, "the whole group gone", () => liveGroupMembers(pid).length === 0);
  await client.close();
});

Deno.test({
  name: "serve: a pipe child gets SIGTERM when the server is killed without cleanup",
  timeout: 15_000,
}, async () => {
  const server = await startServer();
  const client = await TestClient.connect(server.url);
  await client.initialize();
  await client.call("process/start", {
    processId: "orphan",
    argv: ["/bin/sh", "-c", "echo $$; exec sleep 60"],
    cwd: fileUri("/tmp"),
    env: { PATH: "/usr/bin:/bin" },
    tty: false,
  });
  const out = await client.waitFor((m) => m.method === "process/output");
  const pid = Number(b64text((out.params as { chunk: string }).chunk).trim());
  assert.ok(isAlive(pid));
  await server.stop("SIGKILL");
  await until(3000, "child gone after the server died", () => !isAlive(pid));
  await client.close();
});
