/**
 * `serve --ws-auth …` through real upgrades: upstream's capability-token and signed-bearer-token
 * modes, their 401 texts and their startup errors.
 */
import assert from "node:assert/strict";
import { base64url, SignJWT } from "jose";
import { spawnMain, startServer, TestClient } from "../_harness.ts";

/** Sends a websocket upgrade with `authorization`; returns the status and the body. */
async function upgrade(url: string, authorization?: string): Promise<[number, string]> {
  const response = await fetch(url.replace("ws://", "http://"), {
    headers: {
      connection: "Upgrade",
      upgrade: "websocket",
      "sec-websocket-version": "13",
      "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
      ...(authorization === undefined ? {} : { authorization }),
    },
  });
  const body = await response.text();
  return [response.status, body];
}

async function tempFile(text: string): Promise<string> {
  const path = await Deno.makeTempFile({ prefix: "ws_auth_" });
  await Deno.writeTextFile(path, text);
  return path;
}

async function startupError(args: string[]): Promise<string> {
  const child = spawnMain(["serve", "--listen", "ws://127.0.0.1:0", ...args]);
  child.stdin.close();
  const out = await child.output();
  assert.equal(out.code, 2, `expected a usage error for ${args.join(" ")}`);
  assert.equal(new TextDecoder().decode(out.stdout), "");
  return new TextDecoder().decode(out.stderr);
}

Deno.test({
  name: "ws-auth capability-token: token file or SHA-256, upstream's 401 texts",
  timeout: 15_000,
}, async (t) => {
  const tokenFile = await tempFile(" tok123 \n");
  const digest = Array.from(
    new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode("tok123"))),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
  for (
    const args of [
      ["--ws-auth", "capability-token", "--ws-token-file", tokenFile],
      ["--ws-auth", "capability-token", "--ws-token-sha256", digest.toUpperCase()],
      ["--ws-token-file", tokenFile],
    ]
  ) {
    await t.step(args.join(" ").replace(tokenFile, "FILE"), async () => {
      await using server = await startServer({ args });
      assert.deepEqual(await upgrade(server.url), [401, "missing websocket bearer token"]);
      assert.deepEqual(await upgrade(server.url, "Bearer wrong"), [
        401,
        "invalid websocket bearer token",
      ]);
      for (const header of ["Basic abc", "Bearer", "Bearertok123", "tok123"]) {
        assert.deepEqual(await upgrade(server.url, header), [401, "invalid authorization header"]);
      }
      assert.deepEqual(await upgrade(`${server.url}/?token=tok123`), [
        401,
        "missing websocket bearer token",
      ]);
      const ready = await fetch(server.url.replace("ws://", "http://") + "/readyz");
      assert.equal(ready.status, 200);
      await ready.body?.cancel();
      for (const header of ["Bearer tok123", "bearer  tok123"]) {
        await using client = await TestClient.connect(server.url, { authorization: header });
        await client.initialize();
      }
      assert.ok(!server.stderr().includes("tok123"), "the token is never logged");
    });
  }
  await Deno.remove(tokenFile);
});

Deno.test({
  name: "ws-auth signed-bearer-token: HS256 JWTs with exp, nbf, iss, aud and skew",
  timeout: 15_000,
}, async () => {
  const secretText = "0123456789abcdef0123456789abcdef-signing-key";
  const secretFile = await tempFile(`${secretText}\n`);
  const key = new TextEncoder().encode(secretText);
  await using server = await startServer({
    args: [
      "--ws-auth",
      "signed-bearer-token",
      "--ws-shared-secret-file",
      secretFile,
      "--ws-issuer",
      "iss1",
      "--ws-audience",
      "aud1",
    ],
  });
  const now = Math.floor(Date.now() / 1000);
  const sign = (claims: Record<string, unknown>, alg = "HS256", signingKey = key) =>
    new SignJWT(claims).setProtectedHeader({ alg, typ: "JWT", kid: "k1" }).sign(signingKey);
  const unsigned = (claims: Record<string, unknown>) =>
    `${base64url.encode(JSON.stringify({ alg: "none" }))}.${
      base64url.encode(JSON.stringify(claims))
    }.`;
  const base = { iss: "iss1", aud: "aud1" };
  // Upstream 0.169.0's answers to the same tokens (null: the upgrade succeeds).
  const cases: [string, string, string | null][] = [
    ["valid", await sign({ ...base, exp: now + 60 }), null],
    ["no exp", await sign({ ...base }), "invalid websocket jwt"],
    ["string exp", await sign({ ...base, exp: String(now + 60) }), "invalid websocket jwt"],
    ["float exp", await sign({ ...base, exp: now + 60.5 }), "invalid websocket jwt"],
    ["exp past i64", await sign({ ...base, exp: 1e20 }), "invalid websocket jwt"],
    ["expired within the skew", await sign({ ...base, exp: now - 10 }), null],
    ["expired", await sign({ ...base, exp: now - 40 }), "expired websocket jwt"],
    [
      "nbf ahead",
      await sign({ ...base, exp: now + 600, nbf: now + 60 }),
      "websocket jwt is not valid yet",
    ],
    ["nbf within the skew", await sign({ ...base, exp: now + 600, nbf: now + 10 }), null],
    ["iat ahead is ignored", await sign({ ...base, exp: now + 600, iat: now + 600 }), null],
    [
      "wrong iss",
      await sign({ ...base, iss: "x", exp: now + 60 }),
      "websocket jwt issuer mismatch",
    ],
    ["no iss", await sign({ aud: "aud1", exp: now + 60 }), "websocket jwt issuer mismatch"],
    [
      "expiry is checked before the issuer",
      await sign({ iss: "x", exp: now - 100 }),
      "expired websocket jwt",
    ],
    [
      "wrong aud",
      await sign({ ...base, aud: "x", exp: now + 60 }),
      "websocket jwt audience mismatch",
    ],
    ["aud array", await sign({ ...base, aud: ["x", "aud1"], exp: now + 60 }), null],
    ["no aud", await sign({ iss: "iss1", exp: now + 60 }), "websocket jwt audience mismatch"],
    ["HS512", await sign({ ...base, exp: now + 60 }, "HS512"), "invalid websocket jwt"],
    ["alg none", unsigned({ ...base, exp: now + 60 }), "invalid websocket jwt"],
    [
      "other key",
      await sign({ ...base, exp: now + 60 }, "HS256", new TextEncoder().encode("x".repeat(40))),
      "invalid websocket jwt",
    ],
    [
      "secret with its newline",
      await sign({ ...base, exp: now + 60 }, "HS256", new TextEncoder().encode(`${secretText}\n`)),
      "invalid websocket jwt",
    ],
    ["garbage", "abc.def.ghi", "invalid websocket jwt"],
  ];
  for (const [name, token, refusal] of cases) {
    assert.deepEqual(
      await upgrade(server.url, `Bearer ${token}`),
      refusal === null ? [101, ""] : [401, refusal],
      name,
    );
  }
  assert.deepEqual(await upgrade(server.url), [401, "missing websocket bearer token"]);
  assert.deepEqual(await upgrade(server.url, "Basic abc"), [401, "invalid authorization header"]);
  await using client = await TestClient.connect(server.url, {
    authorization: `Bearer ${await sign({ ...base, exp: now + 60 })}`,
  });
  await client.initialize();
  await Deno.remove(secretFile);
});

Deno.test({
  name: "ws-auth --ws-max-clock-skew-seconds narrows the leeway",
  timeout: 15_000,
}, async () => {
  const secretText = "k".repeat(32);
  const secretFile = await tempFile(secretText);
  await using server = await startServer({
    args: [
      "--ws-auth",
      "signed-bearer-token",
      "--ws-shared-secret-file",
      secretFile,
      "--ws-max-clock-skew-seconds",
      "5",
    ],
  });
  const key = new TextEncoder().encode(secretText);
  const now = Math.floor(Date.now() / 1000);
  const token = (exp: number) =>
    new SignJWT({ exp }).setProtectedHeader({ alg: "HS256" }).sign(key);
  assert.deepEqual(await upgrade(server.url, `Bearer ${await token(now - 2)}`), [101, ""]);
  assert.deepEqual(await upgrade(server.url, `Bearer ${await token(now - 10)}`), [
    401,
    "expired websocket jwt",
  ]);
  await Deno.remove(secretFile);
});

Deno.test({
  name: "ws-auth startup errors are upstream's",
  timeout: 30_000,
}, async () => {
  const tokenFile = await tempFile("tok\n");
  const shortSecret = await tempFile("short\n");
  const secret = await tempFile("s".repeat(40));
  const empty = await tempFile("");
  const missing = `${tokenFile}.missing`;
  const digest = "a".repeat(64);
  const cases: [string[], string][] = [
    [
      ["--ws-token-sha256", digest],
      "websocket auth flags require `--ws-auth capability-token` or `--ws-auth signed-bearer-token`",
    ],
    [
      ["--ws-issuer", "x"],
      "websocket auth flags require `--ws-auth capability-token` or `--ws-auth signed-bearer-token`",
    ],
    [
      ["--ws-auth", "capability-token"],
      "`--ws-token-file` or `--ws-token-sha256` is required when `--ws-auth capability-token` is set",
    ],
    [
      ["--ws-auth", "capability-token", "--ws-token-sha256", "abc"],
      "--ws-token-sha256 must be a 64-character hex SHA-256 digest",
    ],
    [
      ["--ws-auth", "capability-token", "--ws-token-file", tokenFile, "--ws-token-sha256", digest],
      "`--ws-token-file` and `--ws-token-sha256` are mutually exclusive",
    ],
    [
      ["--ws-auth", "capability-token", "--ws-token-file", tokenFile, "--ws-issuer", "x"],
      "`--ws-shared-secret-file`, `--ws-issuer`, `--ws-audience`, and `--ws-max-clock-skew-seconds` require `--ws-auth signed-bearer-token`",
    ],
    [
      ["--ws-auth", "capability-token", "--ws-token-file", missing],
      `failed to read websocket auth secret ${missing}: No such file or directory (os error 2)`,
    ],
    [
      ["--ws-auth", "capability-token", "--ws-token-file", empty],
      `websocket auth secret ${empty} must not be empty`,
    ],
    [
      ["--ws-auth", "signed-bearer-token"],
      "`--ws-shared-secret-file` is required when `--ws-auth signed-bearer-token` is set",
    ],
    [
      ["--ws-auth", "signed-bearer-token", "--ws-shared-secret-file", shortSecret],
      `signed websocket bearer secret ${shortSecret} must be at least 32 bytes`,
    ],
    [
      [
        "--ws-auth",
        "signed-bearer-token",
        "--ws-shared-secret-file",
        secret,
        "--ws-token-file",
        tokenFile,
      ],
      "`--ws-token-file` and `--ws-token-sha256` require `--ws-auth capability-token`, not `signed-bearer-token`",
    ],
    [["--ws-auth", "bogus"], "invalid value 'bogus' for '--ws-auth <MODE>'"],
  ];
  for (const [args, message] of cases) {
    const stderr = await startupError(args);
    assert.ok(stderr.includes(message), `${args.join(" ")}: ${stderr}`);
  }
  for (const path of [tokenFile, shortSecret, secret, empty]) await Deno.remove(path);
});

Deno.test({
  name: "serve accepts upstream's -c, --enable, --disable and --strict-config",
  timeout: 15_000,
}, async () => {
  await using server = await startServer({
    args: [
      "-c",
      "model=x",
      "--config",
      "a.b=[1]",
      "--enable",
      "f1",
      "--disable",
      "f2",
      "--strict-config",
    ],
  });
  await using client = await TestClient.connect(server.url);
  await client.initialize();
});
