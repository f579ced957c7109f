/**
 * A direct decoder for `RelayMessageFrame`, reading what protobuf-es `fromBinary` reads from
 * the same bytes (fields in any order, unknown fields skipped, the last value of a repeated
 * scalar wins, `payload` a view into the message, not a copy) without its reflection: 2.5–5
 * µs per 11 KiB data frame instead of 5–10. Frames with a body member repeated, a field of the wrong
 * wire type or a group are refused here (the rendezvous never forwards them either).
 * @module
 */
import type { RelayMessageFrame } from "./frame.ts";

// Strings must be valid UTF-8, as protobuf-es requires.
const decoder = new TextDecoder("utf-8", { fatal: true });

const FRAME = "codex.exec_server.relay.v1.RelayMessageFrame";
const TYPE_NAMES = {
  data: "codex.exec_server.relay.v1.RelayData",
  ackFrame: "codex.exec_server.relay.v1.RelayAck",
  resume: "codex.exec_server.relay.v1.RelayResume",
  reset: "codex.exec_server.relay.v1.RelayReset",
  heartbeat: "codex.exec_server.relay.v1.RelayHeartbeat",
  handshake: "codex.exec_server.relay.v1.RelayHandshake",
} as const;
/** Body members by field number. */
const BODIES: Record<number, keyof typeof TYPE_NAMES> = {
  5: "data",
  6: "ackFrame",
  7: "resume",
  8: "reset",
  9: "heartbeat",
  10: "handshake",
};

class Reader {
  pos: number;
  constructor(readonly bytes: Uint8Array, readonly end: number, start = 0) {
    this.pos = start;
  }

  /** A varint's low 32 bits, unsigned (how a `uint32` field reads any varint). */
  uint32(): number {
    let result = 0;
    for (let shift = 0; shift < 70; shift += 7) {
      if (this.pos >= this.end) throw new Error("premature end of a varint");
      const b = this.bytes[this.pos++];
      if (shift < 32) result |= (b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result >>> 0;
    }
    throw new Error("varint longer than 10 bytes");
  }

  /** A field tag: a varint of at most 5 bytes that fits 32 bits (anything else is refused). */
  tag(): number {
    let result = 0;
    for (let i = 0; i < 5; i++) {
      if (this.pos >= this.end) throw new Error("premature end of a tag");
      const b = this.bytes[this.pos++];
      if (i === 4 && b > 0x0f) throw new Error("tag longer than 32 bits");
      result += (b & 0x7f) * 2 ** (7 * i);
      if ((b & 0x80) === 0) return result;
    }
    throw new Error("tag longer than 5 bytes");
  }

  /** Bounds of a length-delimited field's content. */
  delimited(): [number, number] {
    const length = this.uint32();
    const start = this.pos;
    if (length > this.end - start) throw new Error("premature end of a length-delimited field");
    this.pos = start + length;
    return [start, this.pos];
  }

  skip(wireType: number): void {
    switch (wireType) {
      case 0:
        this.uint32();
        return;
      case 1:
        this.advance(8);
        return;
      case 2:
        this.delimited();
        return;
      case 5:
        this.advance(4);
        return;
      default:
        throw new Error(`unsupported wire type ${wireType}`);
    }
  }

  advance(n: number): void {
    if (n > this.end - this.pos) throw new Error("premature end of a fixed-width field");
    this.pos += n;
  }
}

function expect(wireType: number, wanted: number, field: number): void {
  if (wireType !== wanted) throw new Error(`field ${field} has wire type ${wireType}`);
}

function readBody(
  kind: keyof typeof TYPE_NAMES,
  bytes: Uint8Array,
  start: number,
  end: number,
): RelayMessageFrame["body"] {
  const r = new Reader(bytes, end, start);
  const numbers = [0, 0, 0];
  let payload: Uint8Array = new Uint8Array(0);
  let reason = "";
  while (r.pos < end) {
    const tag = r.tag();
    const field = Math.floor(tag / 8);
    const wireType = tag & 7;
    if (field === 0) throw new Error("field number 0");
    if (kind === "data" && field >= 1 && field <= 3) {
      expect(wireType, 0, field);
      numbers[field - 1] = r.uint32();
    } else if ((kind === "data" && field === 4) || (kind === "handshake" && field === 1)) {
      expect(wireType, 2, field);
      const [s, e] = r.delimited();
      payload = bytes.subarray(s, e);
    } else if ((kind === "resume" || kind === "ackFrame") && field === 1) {
      expect(wireType, 0, field);
      numbers[0] = r.uint32();
    } else if (kind === "reset" && field === 1) {
      expect(wireType, 2, field);
      const [s, e] = r.delimited();
      reason = decoder.decode(bytes.subarray(s, e));
    } else {
      r.skip(wireType);
    }
  }
  const $typeName = TYPE_NAMES[kind];
  switch (kind) {
    case "data":
      return {
        case: kind,
        value: {
          $typeName: TYPE_NAMES.data,
          seq: numbers[0],
          segmentIndex: numbers[1],
          segmentCount: numbers[2],
          payload,
        },
      };
    case "resume":
      return { case: kind, value: { $typeName: TYPE_NAMES.resume, nextSeq: numbers[0] } };
    case "reset":
      return { case: kind, value: { $typeName: TYPE_NAMES.reset, reason } };
    case "handshake":
      return { case: kind, value: { $typeName: TYPE_NAMES.handshake, payload } };
    case "ackFrame":
      return { case: kind, value: { $typeName: TYPE_NAMES.ackFrame, features: numbers[0] } };
    case "heartbeat":
      return { case: kind, value: { $typeName: TYPE_NAMES.heartbeat } };
  }
  throw new Error(`unknown body ${$typeName}`);
}

/**
 * Decodes the protobuf binary of one frame (no validation beyond the encoding).
 *
 * @throws {Error} for bytes that are not a frame's encoding.
 * @example
 * ```ts
 * import { decodeFrameFast } from "./_frame_decode.ts";
 * decodeFrameFast(new Uint8Array([0x08, 0x01, 0x12, 0x01, 0x73, 0x3a, 0x00])).body.case;
 * // "resume"
 * ```
 */
export function decodeFrameFast(bytes: Uint8Array): RelayMessageFrame {
  const r = new Reader(bytes, bytes.length);
  const frame: RelayMessageFrame = {
    $typeName: FRAME,
    version: 0,
    streamId: "",
    ackBits: 0,
    body: { case: undefined },
  } as RelayMessageFrame;
  let bodySeen = false;
  while (r.pos < bytes.length) {
    const tag = r.tag();
    const field = Math.floor(tag / 8);
    const wireType = tag & 7;
    if (field === 0) throw new Error("field number 0");
    switch (field) {
      case 1:
        expect(wireType, 0, field);
        frame.version = r.uint32();
        break;
      case 2: {
        expect(wireType, 2, field);
        const [s, e] = r.delimited();
        frame.streamId = decoder.decode(bytes.subarray(s, e));
        break;
      }
      case 3:
        expect(wireType, 0, field);
        frame.ack = r.uint32();
        break;
      case 4:
        expect(wireType, 0, field);
        frame.ackBits = r.uint32();
        break;
      case 11:
      case 12: {
        expect(wireType, 2, field);
        const [s, e] = r.delimited();
        const text = decoder.decode(bytes.subarray(s, e));
        if (field === 11) frame.traceparent = text;
        else frame.tracestate = text;
        break;
      }
      default: {
        const kind = BODIES[field];
        if (kind === undefined) {
          r.skip(wireType);
          break;
        }
        expect(wireType, 2, field);
        if (bodySeen) throw new Error("more than one body member");
        bodySeen = true;
        const [s, e] = r.delimited();
        frame.body = readBody(kind, bytes, s, e);
      }
    }
  }
  return frame;
}
