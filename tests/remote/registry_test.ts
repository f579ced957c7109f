import assert from "node:assert/strict";
import {
  BearerToken,
  idempotencyId,
  RegistryError,
  resolveHarnessUrl,
  tokenFromEnv,
  validateExecutorId,
} from "../../lib/registry/mod.ts";
import { spawnChild } from "./_chain.ts";

const TOKEN = "fake-registry-secret-9f8e7d";
const BACKOFF_ENV = {
  CODEX_EXEC_SERVER_REMOTE_INITIAL_BACKOFF_MS: "100",
  CODEX_EXEC_SERVER_REMOTE_MAX_BACKOFF_MS: "400",
};

interface Seen {
  method: string;
  path: string;
  headers: Headers;
  body: string;
  at: number;
}

type Reply = (request: Request, fake: FakeRegistry) => Response;

interface FakeRegistry extends AsyncDisposable {
  base: string;
  /** A websocket URL on this server that refuses every upgrade with 401. */
  refusingWsUrl: string;
  seen: Seen[];
}

/** A registry answering registrations from `replies` in order (the last one repeats). */
function fakeRegistry(replies: Reply[]): Promise<FakeRegistry> {
  const seen: Seen[] = [];
  const listening = Promise.withResolvers<Deno.NetAddr>();
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: (addr) => listening.resolve(addr as Deno.NetAddr),
  }, async (request) => {
    const url = new URL(request.url);
    if (url.pathname === "/ws") return new Response("expired", { status: 401 });
    seen.push({
      method: request.method,
      path: url.pathname,
      headers: request.headers,
      body: await request.text(),
      at: performance.now(),
    });
    return replies[Math.min(seen.length - 1, replies.length - 1)](request, fake);
  });
  const fake: FakeRegistry = {
    base: "",
    refusingWsUrl: "",
    seen,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
    },
  };
  return listening.promise.then((addr) => {
    fake.base = `http://127.0.0.1:${addr.port}`;
    fake.refusingWsUrl = `ws://127.0.0.1:${addr.port}/ws`;
    return fake;
  });
}

const registered: Reply = (_request, fake) =>
  Response.json({ id: "exec-1", executor_id: "exec-1", url: fake.refusingWsUrl });
const echoAuth = (status: number): Reply => (request) =>
  Response.json(
    { error: { code: "unauthorized", message: `bad ${request.headers.get("authorization")}` } },
    { status },
  );

function remote(base: string, extraArgs: string[] = [], env: Record<string, string> = {}) {
  return spawnChild(["remote", "--remote", base, "--executor-id", "exec-1", ...extraArgs], {
    env: { CODEX_EXEC_SERVER_REMOTE_BEARER_TOKEN: ` ${TOKEN}\n`, ...BACKOFF_ENV, ...env },
  });
}

function assertNoToken(...outputs: string[]) {
  for (const output of outputs) assert.ok(!output.includes(TOKEN), `token printed:\n${output}`);
}

Deno.test({
  name: "registry: request shape, headers, idempotency id stable across re-registrations",
  timeout: 15_000,
}, async () => {
  await using fake = await fakeRegistry([registered]);
  await using bad = await remote("ftp://127.0.0.1/");
  assert.equal((await bad.exited()).code, 2, "a non-http --remote is a usage error");
  assert.match(bad.stderr(), /must start with http/);
  await using proc = await remote(`${fake.base}/ `, ["--name", "box", "--label", "gpu=a100"]);
  await proc.waitForStderr("registering again", 10_000, 1);
  await proc.waitForStderr("registered executor", 10_000, 2);
  assert.equal((await proc.stop()).code, 0);
  assert.ok(fake.seen.length >= 2);
  const [first, second] = fake.seen;
  assert.equal(first.method, "POST");
  assert.equal(first.path, "/cloud/executor/exec-1/register");
  assert.equal(first.headers.get("authorization"), `Bearer ${TOKEN}`);
  assert.equal(first.headers.get("content-type"), "application/json");
  const body = JSON.parse(first.body);
  assert.deepEqual(Object.keys(body).sort(), [
    "executor_id",
    "idempotency_id",
    "labels",
    "metadata",
    "name",
  ]);
  assert.equal(body.executor_id, "exec-1");
  assert.equal(body.name, "box");
  assert.deepEqual(body.labels, { gpu: "a100" });
  assert.match(body.idempotency_id, /^codex-exec-server-[0-9a-f]{64}$/);
  assert.equal(JSON.parse(second.body).idempotency_id, body.idempotency_id);
  assertNoToken(proc.stderr(), proc.stdout());
});

Deno.test({
  name: "registry: 401 then 403 → exactly two attempts, auth error, exit 1, token never shown",
  timeout: 15_000,
}, async () => {
  await using fake = await fakeRegistry([echoAuth(401), echoAuth(403)]);
  await using proc = await remote(fake.base);
  const status = await proc.exited();
  assert.equal(status.code, 1);
  assert.equal(fake.seen.length, 2);
  assert.match(proc.stderr(), /error: authentication failed: .*403 Forbidden, unauthorized/);
  assert.match(proc.stderr(), /bad Bearer \[redacted\]/, "the echoed header is redacted");
  assert.match(proc.stderr(), /check CODEX_EXEC_SERVER_REMOTE_BEARER_TOKEN/);
  assertNoToken(proc.stderr(), proc.stdout());
});

Deno.test({
  name: "registry: one 401 is retried once with the re-read token and then succeeds",
  timeout: 15_000,
}, async () => {
  await using fake = await fakeRegistry([echoAuth(401), registered]);
  await using proc = await remote(fake.base);
  await proc.waitForStderr("registered executor", 10_000);
  assert.equal((await proc.stop()).code, 0);
  assert.ok(fake.seen.length >= 2);
  assertNoToken(proc.stderr());
});

Deno.test({
  name: "registry: 503/502 and network errors are retried with growing backoff",
  timeout: 30_000,
}, async () => {
  const unavailable: Reply = () =>
    Response.json({ error: { code: "busy", message: "try later" } }, { status: 503 });
  await using fake = await fakeRegistry([
    unavailable,
    unavailable,
    () => new Response("<html>bad gateway</html>", { status: 502 }),
    registered,
  ]);
  await using proc = await remote(fake.base);
  await proc.waitForStderr("registered executor", 10_000);
  assert.equal((await proc.stop()).code, 0);
  const gaps = fake.seen.slice(1, 4).map((s, i) => s.at - fake.seen[i].at);
  assert.ok(gaps[0] >= 90 && gaps[1] >= 190 && gaps[2] >= 390, `gaps ${gaps}`);
  assert.match(proc.stderr(), /503 Service Unavailable, busy\): try later; retrying in 100 ms/);
  assert.match(proc.stderr(), /502 Bad Gateway\): <html>bad gateway<\/html>; retrying in 400 ms/);

  // Nothing listening: network errors are retried too, until SIGTERM.
  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (closed.addr as Deno.NetAddr).port;
  closed.close();
  await using offline = await remote(`http://127.0.0.1:${port}`);
  await offline.waitForStderr("retrying in", 10_000, 2);
  assert.equal((await offline.stop()).code, 0);
});

Deno.test({
  name: "registry: error bodies are parsed or previewed (4096 chars); redirects are not followed",
  timeout: 30_000,
}, async () => {
  await using fake = await fakeRegistry([
    () =>
      Response.json({ error: { code: "bad_executor", message: "no such pool" } }, { status: 400 }),
  ]);
  await using proc = await remote(fake.base);
  assert.equal((await proc.exited()).code, 1);
  assert.match(
    proc.stderr(),
    /registration failed: .*\(400 Bad Request, bad_executor\): no such pool/,
  );

  await using big = await fakeRegistry([() => new Response("x".repeat(10_000), { status: 404 })]);
  await using bigProc = await remote(big.base);
  assert.equal((await bigProc.exited()).code, 1);
  const xs = /x+/.exec(bigProc.stderr().split("404 Not Found")[1])![0];
  assert.equal(xs.length, 4096);

  await using empty = await fakeRegistry([() => new Response(null, { status: 410 })]);
  await using emptyProc = await remote(empty.base);
  assert.equal((await emptyProc.exited()).code, 1);
  assert.match(emptyProc.stderr(), /410 Gone\): empty error body/);

  await using target = await fakeRegistry([registered]);
  await using redirecting = await fakeRegistry([() =>
    new Response(null, {
      status: 302,
      headers: { location: `${target.base}/cloud/executor/exec-1/register` },
    })]);
  await using redirectProc = await remote(redirecting.base);
  assert.equal((await redirectProc.exited()).code, 1);
  assert.match(redirectProc.stderr(), /302 Found.*redirects are not followed/);
  assert.equal(target.seen.length, 0, "the redirect target got a request");
});

Deno.test({
  name: "registry: a missing or empty token variable is a clear error naming it",
  timeout: 15_000,
}, async () => {
  for (const value of [undefined, "  \n"]) {
    const env: Record<string, string> = value === undefined ? {} : {
      CODEX_EXEC_SERVER_REMOTE_BEARER_TOKEN: value,
    };
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "main.ts",
        "remote",
        "--remote",
        "http://127.0.0.1:9",
        "--executor-id",
        "x",
      ],
      cwd: new URL("../..", import.meta.url).pathname,
      env,
      clearEnv: true,
      stdout: "piped",
      stderr: "piped",
    });
    const out = await child.output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 2);
    assert.match(
      stderr,
      new RegExp(
        `CODEX_EXEC_SERVER_REMOTE_BEARER_TOKEN is ${value === undefined ? "not set" : "empty"}`,
      ),
    );
  }
});

Deno.test({
  name: "BearerToken never renders its value",
  timeout: 15_000,
}, () => {
  const token = new BearerToken(TOKEN);
  const renderings = [
    String(token),
    `${token}`,
    JSON.stringify({ token }),
    Deno.inspect(token),
    Deno.inspect({ nested: { token } }, { depth: 10 }),
    Deno.inspect(new RegistryError("auth", token.redact(`echo ${TOKEN}`))),
  ];
  for (const text of renderings) assert.ok(!text.includes(TOKEN), text);
  assert.equal(token.authorization(), `Bearer ${TOKEN}`);
  Deno.env.set("CODEX_EXEC_SERVER_TEST_TOKEN", `  ${TOKEN}\n`);
  try {
    assert.equal(tokenFromEnv("CODEX_EXEC_SERVER_TEST_TOKEN").reveal(), TOKEN);
  } finally {
    Deno.env.delete("CODEX_EXEC_SERVER_TEST_TOKEN");
  }
});

Deno.test({
  name: "idempotency id: SHA-256 over id, name, protocol version, uuid (NUL-separated)",
  timeout: 15_000,
}, async () => {
  const input = new TextEncoder().encode("e1\0box\0codex-exec-server-v1\0u-1");
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", input));
  const hex = [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
  assert.equal(
    idempotencyId({ executorId: "e1", name: "box", registrationUuid: "u-1" }),
    `codex-exec-server-${hex}`,
  );
  assert.throws(() => validateExecutorId("x/../../status"), /ASCII letters/);
  assert.throws(() => validateExecutorId(""), RegistryError);
  await assert.rejects(
    resolveHarnessUrl({ registry: "ftp://x", executorId: "e", token: "t" }),
    /http:\/\/ or https:\/\//,
  );
});
