import assert from "node:assert/strict";
import { checkDataSegment, decodeFrame, encodeFrame, RelayError } from "../../lib/relay/mod.ts";
import { create } from "@bufbuild/protobuf";
import { RelayDataSchema } from "../../lib/relay/gen/codex/exec_server/relay/v1/relay_pb.ts";

function hex(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join(" ");
}

function bytes(text: string): Uint8Array {
  return new Uint8Array(text.split(" ").map((h) => parseInt(h, 16)));
}

Deno.test({
  name: "frame encoder reproduces the spec §1.2 golden vectors",
  timeout: 15_000,
}, () => {
  assert.equal(
    hex(encodeFrame({ streamId: "s", body: { case: "resume", value: { nextSeq: 0 } } })),
    "08 01 12 01 73 3a 00",
  );
  assert.equal(
    hex(encodeFrame({
      streamId: "s",
      body: {
        case: "data",
        value: {
          seq: 0,
          segmentIndex: 0,
          segmentCount: 1,
          payload: new TextEncoder().encode("{}"),
        },
      },
    })),
    "08 01 12 01 73 2a 06 18 01 22 02 7b 7d",
  );
  assert.equal(
    hex(encodeFrame({ streamId: "s", body: { case: "reset", value: { reason: "x" } } })),
    "08 01 12 01 73 42 03 0a 01 78",
  );
  assert.equal(
    hex(encodeFrame({ streamId: "s", ack: 1, body: { case: "ackFrame", value: {} } })),
    "08 01 12 01 73 18 01 32 00",
  );
  assert.equal(
    hex(encodeFrame({
      streamId: "s",
      body: { case: "handshake", value: { payload: new Uint8Array([0xaa, 0xbb]) } },
      traceparent: "t",
      tracestate: "u",
    })),
    "08 01 12 01 73 52 04 0a 02 aa bb 5a 01 74 62 01 75",
  );
});

Deno.test({
  name: "frame decoder reads the golden vectors, in any field order, with unknown fields",
  timeout: 15_000,
}, () => {
  const resume = decodeFrame(bytes("08 01 12 01 73 3a 00"));
  assert.equal(resume.streamId, "s");
  assert.equal(resume.body.case, "resume");
  assert.equal(resume.ack, undefined, "an absent ack means nothing received yet");

  // data first, then stream_id, then version, plus unknown field 15 (varint 7).
  const data = decodeFrame(bytes("2a 06 18 01 22 02 7b 7d 12 01 73 78 07 08 01"));
  assert.equal(data.body.case, "data");
  if (data.body.case === "data") {
    assert.equal(new TextDecoder().decode(data.body.value.payload), "{}");
    assert.equal(data.body.value.seq, 0);
    assert.equal(data.body.value.segmentCount, 1);
  }
  const ack = decodeFrame(bytes("08 01 12 01 73 18 01 32 00"));
  assert.equal(ack.ack, 1);
  assert.equal(ack.body.case, "ackFrame");
  const ackZero = decodeFrame(bytes("08 01 12 01 73 18 00 32 00"));
  assert.equal(ackZero.ack, 0, "a present ack of 0 means seq 0 was received");
});

Deno.test({
  name: "frame decoder rejects garbage, wrong versions, bad stream ids and empty bodies",
  timeout: 15_000,
}, () => {
  const cases: [string, Uint8Array, RegExp][] = [
    ["garbage", new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff]), /undecodable/],
    ["version 2", bytes("08 02 12 01 73 3a 00"), /unsupported relay message frame version 2/],
    ["version 0", bytes("12 01 73 3a 00"), /version 0/],
    ["empty id", bytes("08 01 3a 00"), /empty stream_id/],
    ["blank id", bytes("08 01 12 02 20 20 3a 00"), /empty stream_id/],
    [
      "129-byte id",
      encodeFrame({ streamId: "x".repeat(129), body: { case: "resume", value: {} } }),
      /129 bytes/,
    ],
    ["no body", bytes("08 01 12 01 73"), /no body/],
    ["empty reset reason", bytes("08 01 12 01 73 42 00"), /no reason/],
    ["empty handshake", bytes("08 01 12 01 73 52 00"), /handshake .* empty/],
  ];
  for (const [name, input, pattern] of cases) {
    assert.throws(
      () => decodeFrame(input),
      (error: unknown) =>
        error instanceof RelayError && error.code === "invalid_frame" &&
        pattern.test(error.message),
      name,
    );
  }
  // 128 bytes is still fine.
  decodeFrame(encodeFrame({ streamId: "x".repeat(128), body: { case: "resume", value: {} } }));
});

Deno.test({
  name: "data segment checks accept legacy whole messages and reject bad segment fields",
  timeout: 15_000,
}, () => {
  const limits = { segmentBytes: 61440, maxMessageBytes: 64 * 1024 * 1024, legacy: false };
  const payload = new Uint8Array([1]);
  function check(fields: Record<string, unknown>, legacy = false): string | undefined {
    return checkDataSegment(create(RelayDataSchema, { payload, ...fields }), { ...limits, legacy });
  }
  assert.equal(check({ segmentCount: 1 }), undefined);
  assert.equal(check({ segmentCount: 1, payload: new Uint8Array(1 << 20) }), undefined);
  assert.equal(check({ seq: 5, segmentIndex: 2, segmentCount: 3 }), undefined);
  assert.match(check({ segmentCount: 1, payload: new Uint8Array() })!, /payload is empty/);
  assert.match(check({ segmentCount: 0 })!, /not positive/);
  assert.match(check({ seq: 9, segmentIndex: 3, segmentCount: 3 })!, /not below/);
  assert.match(check({ seq: 1, segmentIndex: 2, segmentCount: 3 })!, /above seq/);
  assert.match(check({ seq: 1, segmentIndex: 1, segmentCount: 2 }, true)!, /never negotiated/);
  assert.match(check({ segmentCount: 100_000_000 })!, /exceeds/);
  assert.match(check({ segmentCount: 2, payload: new Uint8Array(61441) })!, /exceeds 61440/);
});
