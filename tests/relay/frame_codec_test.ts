/**
 * The direct frame codec agrees with protobuf-es, which generated code the wire contract was
 * checked with: the encoder writes exactly the bytes `toBinary` writes for any frame (any body,
 * any field values, optional fields set or not), and the decoder reads what `fromBinary` reads
 * (any field order, unknown fields) and accepts no bytes that `fromBinary` refuses.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  decodeFrame,
  encodeFrame,
  type RelayFrameInit,
  type RelayMessageFrame,
  RelayMessageFrameSchema,
} from "../../lib/relay/frame.ts";
import { decodeFrameFast } from "../../lib/relay/_frame_decode.ts";

const u32 = fc.oneof(
  fc.constant(0),
  fc.integer({ min: 0, max: 300 }),
  fc.integer({ min: 0, max: 0xffff_ffff }),
  fc.constantFrom(127, 128, 16383, 16384, 0x1f_ffff, 0x20_0000, 0xfff_ffff, 0x1000_0000),
);
const bytes = fc.oneof(
  fc.uint8Array({ maxLength: 40 }),
  fc.integer({ min: 0, max: 70_000 }).map((n) => new Uint8Array(n).fill(n & 0xff)),
);
const text = fc.oneof(fc.string({ maxLength: 40 }), fc.constant("é€😀"));
const body = fc.oneof(
  fc.record({
    case: fc.constant("data" as const),
    value: fc.record({ seq: u32, segmentIndex: u32, segmentCount: u32, payload: bytes }),
  }),
  fc.constant({ case: "ackFrame" as const, value: {} }),
  fc.record({ case: fc.constant("resume" as const), value: fc.record({ nextSeq: u32 }) }),
  fc.record({ case: fc.constant("reset" as const), value: fc.record({ reason: text }) }),
  fc.constant({ case: "heartbeat" as const, value: {} }),
  fc.record({ case: fc.constant("handshake" as const), value: fc.record({ payload: bytes }) }),
  fc.constant(undefined),
);
const frame = fc.record({
  version: fc.option(u32, { nil: undefined }),
  streamId: text,
  ack: fc.option(u32, { nil: undefined }),
  ackBits: u32,
  body,
  traceparent: fc.option(text, { nil: undefined }),
  tracestate: fc.option(text, { nil: undefined }),
}, { requiredKeys: ["streamId"] });

function reference(init: RelayFrameInit): Uint8Array {
  return toBinary(
    RelayMessageFrameSchema,
    create(RelayMessageFrameSchema, { version: 1, ...init }),
  );
}

Deno.test({
  name: "frame encoder: byte for byte what protobuf-es writes, for any frame",
  timeout: 60_000,
}, () => {
  fc.assert(
    fc.property(frame, (generated) => {
      const init = Object.fromEntries(
        Object.entries(generated).filter(([, v]) => v !== undefined),
      ) as RelayFrameInit;
      assert.deepEqual(encodeFrame(init), reference(init));
    }),
    { numRuns: 2000 },
  );
});

Deno.test({
  name: "frame encoder: a data frame round-trips through the decoder",
  timeout: 10_000,
}, () => {
  const payload = new Uint8Array(11_000).map((_, i) => i);
  const bytes = encodeFrame({
    streamId: "3f1c1b9e-4d1b-4c55-9b1e-0a1b2c3d4e5f",
    ack: 0,
    ackBits: 0b1010,
    body: { case: "data", value: { seq: 70_000, segmentIndex: 2, segmentCount: 3, payload } },
  });
  const frame = decodeFrame(bytes);
  assert.equal(frame.ack, 0);
  assert.equal(frame.ackBits, 0b1010);
  assert.equal(frame.body.case, "data");
  if (frame.body.case !== "data") return;
  assert.equal(frame.body.value.seq, 70_000);
  assert.deepEqual(frame.body.value.payload, payload);
});

/** Fields of a decoded frame that code reads (protobuf-es adds `$unknown` for unknown fields). */
function fields(frame: RelayMessageFrame) {
  const { $unknown: _unknown, ...rest } = frame as RelayMessageFrame & { $unknown?: unknown };
  const body = frame.body.case === undefined ? { case: undefined } : {
    case: frame.body.case,
    value: Object.fromEntries(
      Object.entries(frame.body.value).filter(([key]) => key !== "$unknown"),
    ),
  };
  return { ...rest, body };
}

/** A frame's top-level fields encoded one by one, in a random order, unknown fields between. */
const shuffled = fc.tuple(
  frame,
  fc.array(fc.nat(), { minLength: 12, maxLength: 12 }),
  fc.array(
    fc.tuple(
      fc.integer({ min: 13, max: 2000 }),
      fc.constantFrom(0, 1, 2, 5),
      fc.uint8Array({ maxLength: 9 }),
    ),
    { maxLength: 3 },
  ),
).map(([generated, order, unknown]) => {
  const parts: Uint8Array[] = [];
  for (const [key, value] of Object.entries({ version: 1, ...generated })) {
    if (value === undefined) continue;
    // A frame with only this field set encodes as just this field.
    parts.push(
      toBinary(RelayMessageFrameSchema, create(RelayMessageFrameSchema, { [key]: value })),
    );
  }
  for (const [field, wireType, content] of unknown) {
    const tag: number[] = [];
    for (let t = (field << 3) | wireType;; t >>>= 7) {
      if (t < 0x80) {
        tag.push(t);
        break;
      }
      tag.push((t & 0x7f) | 0x80);
    }
    const value = wireType === 0
      ? [content.length]
      : wireType === 1
      ? new Array(8).fill(0)
      : wireType === 5
      ? new Array(4).fill(0)
      : [content.length, ...content];
    parts.push(new Uint8Array([...tag, ...value]));
  }
  for (let i = parts.length - 1; i > 0; i--) {
    const j = order[i % order.length] % (i + 1);
    [parts[i], parts[j]] = [parts[j], parts[i]];
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
});

Deno.test({
  name:
    "frame decoder: reads what protobuf-es reads, in any field order, with unknown fields; garbage fails alike",
  timeout: 60_000,
}, () => {
  fc.assert(
    fc.property(shuffled, (bytes) => {
      assert.deepEqual(
        fields(decodeFrameFast(bytes)),
        fields(fromBinary(RelayMessageFrameSchema, bytes)),
      );
    }),
    { numRuns: 2000 },
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      let reference: RelayMessageFrame | undefined;
      try {
        reference = fromBinary(RelayMessageFrameSchema, bytes);
      } catch {
        // protobuf-es refuses it: ours must too, or read the same.
      }
      let ours: RelayMessageFrame | undefined;
      try {
        ours = decodeFrameFast(bytes);
      } catch {
        // refused
      }
      if (ours !== undefined && reference !== undefined) {
        assert.deepEqual(fields(ours), fields(reference));
      }
      if (ours !== undefined) {
        assert.ok(reference !== undefined, "accepted what protobuf-es refuses");
      }
    }),
    { numRuns: 20_000 },
  );
});
