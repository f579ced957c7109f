import assert from "node:assert/strict";
import {
  exportHybridSecret,
  generateHybridKeyPair,
  HybridIkInitiator,
  HybridIkResponder,
  importHybridKeyPair,
  MESSAGE1_OVERHEAD,
  MESSAGE2_BYTES,
  NoiseChannel,
  NoiseError,
  noisePrologue,
  publicKeyFromJson,
  publicKeyToJson,
} from "../../lib/noise/mod.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

Deno.test("prologue matches the upstream golden vector (env-1, registration-1, stream-1)", {
  timeout: 10_000,
}, () => {
  const zeros = (n: number) => "00".repeat(n);
  const hex = (s: string) => encoder.encode(s).toHex();
  const expected = `${zeros(7)}20${hex("codex-exec-server-relay-noise/v1")}` +
    `${zeros(7)}05${hex("env-1")}${zeros(7)}0e${hex("registration-1")}${zeros(7)}08${
      hex("stream-1")
    }`;
  const prologue = noisePrologue({
    environmentId: "env-1",
    registrationId: "registration-1",
    streamId: "stream-1",
  });
  assert.equal(prologue.toHex(), expected);
});

async function handshake(payload = "authz-1") {
  const [harness, executor] = await Promise.all([generateHybridKeyPair(), generateHybridKeyPair()]);
  const prologue = noisePrologue({ environmentId: "e", registrationId: "r", streamId: "s" });
  const initiator = new HybridIkInitiator({
    prologue,
    localStatic: harness,
    remoteStatic: executor.public,
  });
  const message1 = await initiator.writeMessage1(encoder.encode(payload));
  return { harness, executor, prologue, initiator, message1 };
}

Deno.test("handshake: sizes are 3568 + payload and 3424, and both sides agree on keys", {
  timeout: 10_000,
}, async () => {
  const { harness, executor, prologue, initiator, message1 } = await handshake("authz-1-xyz");
  assert.equal(message1.length, MESSAGE1_OVERHEAD + 11);
  assert.equal(MESSAGE1_OVERHEAD, 3568);
  const pending = await HybridIkResponder.readMessage1(message1, {
    prologue,
    localStatic: executor,
  });
  assert.equal(decoder.decode(pending.payload), "authz-1-xyz");
  assert.deepEqual(pending.remoteStatic, harness.public);
  const { message: message2, ciphers: executorCiphers } = await pending.writeMessage2();
  assert.equal(message2.length, MESSAGE2_BYTES);
  assert.equal(MESSAGE2_BYTES, 3424);
  const harnessCiphers = await initiator.readMessage2(message2);
  assert.deepEqual(harnessCiphers.handshakeHash, executorCiphers.handshakeHash);

  const harnessChannel = new NoiseChannel(harnessCiphers);
  const executorChannel = new NoiseChannel(executorCiphers);
  const big = encoder.encode(JSON.stringify({ id: 1, method: "x", params: "y".repeat(200_000) }));
  const sealed = await harnessChannel.seal(big);
  assert.deepEqual(sealed.map((r) => r.seq), [0, 1, 2, 3]);
  assert.deepEqual(sealed.map((r) => r.record.length), [
    61456,
    61456,
    61456,
    4 + big.length - 3 * 61440 + 16,
  ]);
  // Delivered out of order: the reorder buffer restores seq order before decrypting.
  const out: Uint8Array[] = [];
  for (const index of [2, 0, 3, 1]) {
    out.push(...await executorChannel.open(sealed[index].seq, sealed[index].record));
  }
  assert.equal(out.length, 1);
  assert.deepEqual(out[0], big);
  const [reply] = await executorChannel.seal(encoder.encode('{"id":1,"result":{}}'));
  assert.equal(reply.record.length, 16 + 4 + 20);
  const [back] = await harnessChannel.open(reply.seq, reply.record);
  assert.equal(decoder.decode(back), '{"id":1,"result":{}}');
});

Deno.test("handshake: a tampered message 1 fails authentication", { timeout: 10_000 }, async () => {
  const { executor, prologue, message1 } = await handshake();
  for (const offset of [0, 1100, 2400, 3000, message1.length - 1]) {
    const tampered = new Uint8Array(message1);
    tampered[offset] ^= 1;
    await assert.rejects(
      HybridIkResponder.readMessage1(tampered, { prologue, localStatic: executor }),
      (error) => error instanceof NoiseError && error.code === "decrypt_failed",
      `offset ${offset}`,
    );
  }
});

Deno.test(
  "handshake: another stream id in the prologue rejects message 1",
  { timeout: 10_000 },
  async () => {
    const { executor, message1 } = await handshake();
    const other = noisePrologue({ environmentId: "e", registrationId: "r", streamId: "s2" });
    await assert.rejects(
      HybridIkResponder.readMessage1(message1, { prologue: other, localStatic: executor }),
      (error) => error instanceof NoiseError && error.code === "decrypt_failed",
    );
  },
);

Deno.test(
  "handshake: a message 1 for another executor key is rejected",
  { timeout: 10_000 },
  async () => {
    const { prologue, message1 } = await handshake();
    const stranger = await generateHybridKeyPair();
    await assert.rejects(
      HybridIkResponder.readMessage1(message1, { prologue, localStatic: stranger }),
      (error) => error instanceof NoiseError && error.code === "decrypt_failed",
    );
  },
);

Deno.test(
  "handshake: truncated messages and tampered message 2 are rejected",
  { timeout: 10_000 },
  async () => {
    const { executor, prologue, initiator, message1 } = await handshake();
    await assert.rejects(
      HybridIkResponder.readMessage1(message1.subarray(0, 3567), {
        prologue,
        localStatic: executor,
      }),
      (error) => error instanceof NoiseError && error.code === "invalid_handshake",
    );
    const pending = await HybridIkResponder.readMessage1(message1, {
      prologue,
      localStatic: executor,
    });
    const { message: message2 } = await pending.writeMessage2();
    await assert.rejects(
      initiator.readMessage2(message2.subarray(1)),
      (error) => error instanceof NoiseError && error.code === "invalid_handshake",
    );
    const tampered = new Uint8Array(message2);
    tampered[1500] ^= 0x80;
    await assert.rejects(
      initiator.readMessage2(tampered),
      (error) => error instanceof NoiseError && error.code === "decrypt_failed",
    );
  },
);

Deno.test("transport: a replayed or modified record fails and reorder overflow is an error", {
  timeout: 10_000,
}, async () => {
  const { executor, prologue, initiator, message1 } = await handshake();
  const pending = await HybridIkResponder.readMessage1(message1, {
    prologue,
    localStatic: executor,
  });
  const { message: message2, ciphers } = await pending.writeMessage2();
  const harness = new NoiseChannel(await initiator.readMessage2(message2));
  const executorChannel = new NoiseChannel(ciphers);
  const [first] = await harness.seal(encoder.encode("{}"));
  // A duplicate seq is dropped silently (first copy wins).
  assert.equal((await executorChannel.open(0, first.record)).length, 1);
  assert.equal((await executorChannel.open(0, first.record)).length, 0);
  // A record placed under the wrong seq decrypts with the wrong nonce.
  await assert.rejects(
    executorChannel.open(1, first.record),
    (error) => error instanceof NoiseError && error.code === "decrypt_failed",
  );
  const fresh = new NoiseChannel(ciphers);
  await assert.rejects(
    fresh.open(70, first.record),
    (error) => error instanceof NoiseError && error.code === "reorder_overflow",
  );
});

Deno.test(
  "keys: JSON round trip, strict parsing, secret export/import",
  { timeout: 10_000 },
  async () => {
    const pair = await generateHybridKeyPair({ extractable: true });
    const json = publicKeyToJson(pair.public);
    assert.deepEqual(Object.keys(json), ["suite", "x25519_public_key", "mlkem768_public_key"]);
    assert.equal(json.x25519_public_key.length, 44);
    assert.equal(json.mlkem768_public_key.length, 1580);
    assert.deepEqual(publicKeyFromJson(json), pair.public);
    const bad = (value: unknown, pattern: RegExp) =>
      assert.throws(
        () => publicKeyFromJson(value),
        (e) => e instanceof NoiseError && e.code === "invalid_key" && pattern.test(e.message),
      );
    bad({ ...json, extra: 1 }, /unknown public key member `extra`/);
    bad({ ...json, suite: "Noise_IK" }, /suite/);
    bad(
      { ...json, x25519_public_key: json.x25519_public_key.slice(4) },
      /is 29 bytes; expected 32/,
    );
    bad({ ...json, mlkem768_public_key: "!!!!" }, /Invalid symbol/);
    bad([], /JSON object/);
    const secret = await exportHybridSecret(pair);
    const again = await importHybridKeyPair(secret);
    assert.deepEqual(again.public, pair.public);
  },
);
