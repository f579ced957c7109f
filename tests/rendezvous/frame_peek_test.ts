import assert from "node:assert/strict";
import fc from "fast-check";
import { encodeFrame, type RelayFrameInit } from "../../lib/relay/mod.ts";
import { peekFrame } from "../../lib/rendezvous/_frame_peek.ts";

const KINDS = {
  data: "data",
  ackFrame: "ack_frame",
  resume: "resume",
  reset: "reset",
  heartbeat: "heartbeat",
  handshake: "handshake",
} as const;

function body(kind: keyof typeof KINDS, bytes: Uint8Array): RelayFrameInit["body"] {
  switch (kind) {
    case "data":
      return {
        case: "data",
        value: { seq: 7, segmentIndex: 0, segmentCount: 1, payload: bytes },
      };
    case "reset":
      return { case: "reset", value: { reason: "r" } };
    case "resume":
      return { case: "resume", value: { nextSeq: 3 } };
    case "handshake":
      return { case: "handshake", value: { payload: bytes } };
    default:
      return { case: kind, value: {} };
  }
}

Deno.test({
  name: "frame peek: reads version, stream_id and body kind of any encoded frame",
  timeout: 15_000,
}, () => {
  fc.assert(
    fc.property(
      fc.string({ minLength: 1, maxLength: 128 }),
      fc.constantFrom(...Object.keys(KINDS) as (keyof typeof KINDS)[]),
      fc.uint8Array({ minLength: 1, maxLength: 300 }),
      fc.option(fc.nat(), { nil: undefined }),
      fc.option(fc.string(), { nil: undefined }),
      (streamId, kind, payload, ack, traceparent) => {
        const bytes = encodeFrame({
          streamId,
          ack,
          ackBits: ack === undefined ? 0 : 5,
          traceparent,
          body: body(kind, payload),
        });
        assert.deepEqual(peekFrame(bytes), { version: 1, streamId, kind: KINDS[kind] });
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test({
  name: "frame peek: golden vectors and garbage",
  timeout: 15_000,
}, () => {
  const resume = new Uint8Array([0x08, 0x01, 0x12, 0x01, 0x73, 0x3a, 0x00]);
  assert.deepEqual(peekFrame(resume), { version: 1, streamId: "s", kind: "resume" });
  const reset = new Uint8Array([0x08, 0x01, 0x12, 0x01, 0x73, 0x42, 0x03, 0x0a, 0x01, 0x78]);
  assert.deepEqual(peekFrame(reset), { version: 1, streamId: "s", kind: "reset" });
  assert.equal(peekFrame(new Uint8Array([0xff, 0xff, 0xff])), undefined);
  assert.equal(peekFrame(new Uint8Array([0x12, 0x05, 0x73])), undefined, "length past the end");
  assert.equal(peekFrame(new Uint8Array([0x12, 0x01, 0xff])), undefined, "invalid UTF-8 id");
  assert.deepEqual(peekFrame(new Uint8Array([])), { version: 0, streamId: "", kind: undefined });
});
