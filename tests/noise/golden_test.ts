/**
 * Replays `golden/harness_vs_upstream.json` (recorded against the real upstream 0.169.0
 * executor by `_record_golden.ts`) with the recorded keys and encapsulations: our handshake
 * must produce the very message 1 upstream accepted, accept its message 2, seal the very
 * records it decrypted and open the records it sent.
 */
import assert from "node:assert/strict";
import {
  type Encapsulation,
  HybridIkInitiator,
  importHybridKeyPair,
  NoiseChannel,
  noisePrologue,
  publicKeyFromJson,
} from "../../lib/noise/mod.ts";
import { decodeFrame } from "../../lib/relay/mod.ts";

interface Golden {
  environmentId: string;
  registrationId: string;
  streamId: string;
  authorization: string;
  executorPublicKey: unknown;
  harnessStatic: { x25519: string; mlkemSeed: string };
  ephemerals: { x25519: string; mlkemSeed: string }[];
  encapsulations: { ciphertext: string; sharedSecret: string }[];
  frames: { direction: "out" | "in"; hex: string }[];
  messages: { direction: "out" | "in"; json: string }[];
}

const golden: Golden = JSON.parse(
  await Deno.readTextFile(new URL("./golden/harness_vs_upstream.json", import.meta.url)),
);

function secret(hex: { x25519: string; mlkemSeed: string }) {
  return importHybridKeyPair({
    x25519: Uint8Array.fromHex(hex.x25519),
    mlkemSeed: Uint8Array.fromHex(hex.mlkemSeed),
  });
}

Deno.test(
  "golden transcript with upstream's executor replays byte for byte",
  { timeout: 10_000 },
  async () => {
    const frames = golden.frames.map((f) => ({
      direction: f.direction,
      frame: decodeFrame(Uint8Array.fromHex(f.hex)),
    }));
    assert.ok(frames.every((f) => f.frame.streamId === golden.streamId));
    assert.equal(frames[0].frame.body.case, "resume");
    const [message1, message2] = frames.filter((f) => f.frame.body.case === "handshake").map((f) =>
      f.frame.body.value as { payload: Uint8Array }
    );
    const ephemeral = await secret(golden.ephemerals[0]);
    const encapsulations: Encapsulation[] = golden.encapsulations.map((e) => ({
      ciphertext: Uint8Array.fromHex(e.ciphertext),
      sharedSecret: Uint8Array.fromHex(e.sharedSecret),
    }));
    const initiator = new HybridIkInitiator({
      prologue: noisePrologue(golden),
      localStatic: await secret(golden.harnessStatic),
      remoteStatic: publicKeyFromJson(golden.executorPublicKey),
      entropy: {
        ephemeral: () => Promise.resolve(ephemeral),
        encapsulate: () => Promise.resolve(encapsulations.shift()!),
      },
    });
    const written = await initiator.writeMessage1(new TextEncoder().encode(golden.authorization));
    assert.equal(written.length, 3568 + golden.authorization.length);
    assert.equal(written.toHex(), message1.payload.toHex(), "message 1 differs from the recording");
    const channel = new NoiseChannel(await initiator.readMessage2(message2.payload));

    const outRecords = frames.filter((f) => f.direction === "out" && f.frame.body.case === "data")
      .map((f) => f.frame.body.value as { seq: number; payload: Uint8Array });
    const inRecords = frames.filter((f) => f.direction === "in" && f.frame.body.case === "data")
      .map((f) => f.frame.body.value as { seq: number; payload: Uint8Array });
    const sealed = [];
    for (const message of golden.messages.filter((m) => m.direction === "out")) {
      sealed.push(...await channel.seal(new TextEncoder().encode(message.json)));
    }
    assert.deepEqual(sealed.map((r) => r.seq), outRecords.map((r) => r.seq));
    assert.deepEqual(sealed.map((r) => r.record.toHex()), outRecords.map((r) => r.payload.toHex()));
    assert.ok(outRecords.some((r) => r.payload.length === 61456), "a full 61 440-byte record");

    const opened: string[] = [];
    for (const record of inRecords) {
      for (const message of await channel.open(record.seq, record.payload)) {
        opened.push(new TextDecoder().decode(message));
      }
    }
    assert.deepEqual(
      opened,
      golden.messages.filter((m) => m.direction === "in").map((m) => m.json),
    );
    assert.match(opened[0], /"executorVersion":"0\.169\.0"/);
  },
);
