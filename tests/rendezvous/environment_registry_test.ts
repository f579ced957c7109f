/**
 * The E5 environment registry contract of our rendezvous (spec e5_noise.md §2.1–2.7), through
 * real HTTP and websockets: register answers exactly four members, connect issues single-use
 * bundles (409 while offline), validate accepts only what connect issued, stale URLs get 401.
 */
import assert from "node:assert/strict";
import { generateHybridKeyPair, publicKeyToJson } from "../../lib/noise/mod.ts";
import { startRendezvous } from "../../lib/rendezvous/mod.ts";

const TOKEN = "registry-test-token";

async function post(base: string, path: string, body: unknown, token = TOKEN) {
  const response = await fetch(`${base}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

/** Opens a websocket; resolves with the socket, or the HTTP status of a refused upgrade. */
async function upgrade(url: string): Promise<WebSocket | number> {
  const socket = new WebSocket(url);
  return await new Promise((resolve) => {
    socket.onopen = () => resolve(socket);
    socket.onerror = (event) => {
      const status = /(\d{3})/.exec((event as ErrorEvent).message ?? "")?.[1];
      resolve(Number(status ?? 0));
    };
  });
}

function closeSocket(socket: WebSocket): Promise<void> {
  const closed = new Promise<void>((resolve) => socket.addEventListener("close", () => resolve()));
  socket.close();
  return closed;
}

Deno.test("environment registry: register, connect, validate, single use, stale URLs", {
  timeout: 20_000,
}, async () => {
  const server = await startRendezvous({
    hostname: "127.0.0.1",
    port: 0,
    token: TOKEN,
    log: () => {},
  });
  try {
    const executorKey = publicKeyToJson((await generateHybridKeyPair()).public);
    const harnessKey = publicKeyToJson((await generateHybridKeyPair()).public);
    const registerBody = {
      security_profile: "noise_hybrid_ik_v1",
      executor_public_key: executorKey,
    };

    assert.equal(
      (await post(server.url, "/cloud/environment/env-1/register", registerBody, "wrong")).status,
      401,
    );
    const legacy = await post(server.url, "/cloud/environment/env-1/register", {});
    assert.equal(legacy.status, 400);
    assert.equal(legacy.body.error.code, "unsupported_security_profile");
    const badKey = await post(server.url, "/cloud/environment/env-1/register", {
      ...registerBody,
      executor_public_key: { ...executorKey, x25519_public_key: "AAAA" },
    });
    assert.equal(badKey.status, 400);
    assert.match(badKey.body.error.message, /x25519_public_key is 3 bytes; expected 32/);
    assert.equal(
      (await post(server.url, "/cloud/environment/a..b/register", registerBody)).status,
      400,
    );

    const connectEarly = await post(server.url, "/cloud/environment/env-1/connect", {
      harness_public_key: harnessKey,
    });
    assert.equal(connectEarly.status, 404);

    const first = await post(server.url, "/cloud/environment/env-1/register", registerBody);
    assert.equal(first.status, 200);
    // Exactly these four members: upstream 0.169.0 rejects a registration with any other.
    assert.deepEqual(Object.keys(first.body), [
      "environment_id",
      "url",
      "security_profile",
      "executor_registration_id",
    ]);
    assert.equal(first.body.environment_id, "env-1");
    assert.equal(first.body.security_profile, "noise_hybrid_ik_v1");
    assert.match(
      first.body.url,
      /^ws:\/\/127\.0\.0\.1:\d+\/relay\/environment\/env-1\?role=environment&/,
    );

    const offline = await post(server.url, "/cloud/environment/env-1/connect", {
      harness_public_key: harnessKey,
    });
    assert.equal(offline.status, 409);
    assert.equal(offline.body.error.code, "environment_offline");

    // Registering again revokes the first registration's URL (401 makes executors re-register).
    const second = await post(server.url, "/cloud/environment/env-1/register", registerBody);
    assert.notEqual(second.body.executor_registration_id, first.body.executor_registration_id);
    assert.equal(await upgrade(first.body.url), 401);
    const executor = await upgrade(second.body.url);
    assert.ok(executor instanceof WebSocket);
    try {
      await new Promise((resolve) => setTimeout(resolve, 50));
      const bundle = await post(server.url, "/cloud/environment/env-1/connect", {
        harness_public_key: harnessKey,
      });
      assert.equal(bundle.status, 200);
      assert.equal(bundle.body.executor_registration_id, second.body.executor_registration_id);
      assert.deepEqual(bundle.body.executor_public_key, executorKey);
      const again = await post(server.url, "/cloud/environment/env-1/connect", {
        harness_public_key: harnessKey,
      });
      assert.notEqual(again.body.harness_key_authorization, bundle.body.harness_key_authorization);
      assert.notEqual(again.body.url, bundle.body.url);

      const validate = (
        authorization: string,
        key = harnessKey,
        registration = second.body.executor_registration_id,
      ) =>
        post(server.url, "/cloud/environment/env-1/validate", {
          executor_registration_id: registration,
          harness_public_key: key,
          harness_key_authorization: authorization,
        });
      // Another harness key cannot use this authorization (and spends it).
      const otherKey = publicKeyToJson((await generateHybridKeyPair()).public);
      assert.deepEqual((await validate(again.body.harness_key_authorization, otherKey)).body, {
        valid: false,
      });
      assert.deepEqual((await validate(again.body.harness_key_authorization)).body, {
        valid: false,
      });
      assert.deepEqual(
        (await validate(bundle.body.harness_key_authorization, harnessKey, "reg_other")).body,
        { valid: false },
      );
      const fresh = await post(server.url, "/cloud/environment/env-1/connect", {
        harness_public_key: harnessKey,
      });
      assert.deepEqual((await validate(fresh.body.harness_key_authorization)).body, {
        valid: true,
      });
      assert.deepEqual((await validate(fresh.body.harness_key_authorization)).body, {
        valid: false,
      });
      assert.deepEqual((await validate("authz_never_issued")).body, { valid: false });

      // Harness URLs are single-use.
      const harness = await upgrade(fresh.body.url);
      assert.ok(harness instanceof WebSocket);
      assert.equal(await upgrade(fresh.body.url), 401);
      await closeSocket(harness);
      const tampered = fresh.body.url.replace("role=harness", "role=environment");
      assert.equal(await upgrade(tampered), 401);
    } finally {
      await closeSocket(executor);
    }
  } finally {
    await server.shutdown();
  }
});

Deno.test(
  "environment registry: an expired URL is refused with 401",
  { timeout: 20_000 },
  async () => {
    const server = await startRendezvous({
      hostname: "127.0.0.1",
      port: 0,
      token: TOKEN,
      urlTtlSeconds: 0.001,
      log: () => {},
    });
    try {
      const executorKey = publicKeyToJson((await generateHybridKeyPair()).public);
      const registered = await post(server.url, "/cloud/environment/env-x/register", {
        security_profile: "noise_hybrid_ik_v1",
        executor_public_key: executorKey,
      });
      await new Promise((resolve) => setTimeout(resolve, 1100));
      assert.equal(await upgrade(registered.body.url), 401);
    } finally {
      await server.shutdown();
    }
  },
);
