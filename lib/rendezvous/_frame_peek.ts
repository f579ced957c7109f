/**
 * Reads just enough of a `RelayMessageFrame` to route it (version, `stream_id`, body kind)
 * without decoding or copying the payload: the rendezvous forwards the original bytes.
 *
 * Routing is only safe if the rendezvous and the endpoints read the same `stream_id` from the
 * same bytes. Protobuf decoders differ on malformed input (a tag longer than 5 bytes is
 * truncated to 32 bits by protobuf-es, a repeated field keeps its last value, a field with the
 * wrong wire type is skipped or refused), so a crafted frame could name the attacker's stream to
 * the rendezvous and a victim's to the executor. Only canonical top-level encodings are read:
 * known fields with their declared wire type, each at most once, at most one body member,
 * minimal tags, varints of at most 5 bytes below 2^32, and a UTF-8 `stream_id`.
 * @module
 */

/** Body kinds by protobuf field number (spec/relay.md §1.1). */
const BODY_KINDS: Record<number, FrameKind> = {
  5: "data",
  6: "ack_frame",
  7: "resume",
  8: "reset",
  9: "heartbeat",
  10: "handshake",
};

/** Wire type of every top-level field of `RelayMessageFrame` (0 varint, 2 length-delimited). */
const WIRE_TYPES: Record<number, number> = {
  1: 0,
  2: 2,
  3: 0,
  4: 0,
  5: 2,
  6: 2,
  7: 2,
  8: 2,
  9: 2,
  10: 2,
  11: 2,
  12: 2,
};

/** The oneof member a frame carries. */
export type FrameKind = "data" | "ack_frame" | "resume" | "reset" | "heartbeat" | "handshake";

/** What routing needs to know about a frame. */
export interface FramePeek {
  version: number;
  streamId: string;
  /** The body member, or undefined when there is none. */
  kind: FrameKind | undefined;
}

const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Scans the top-level fields of an encoded frame; returns undefined when the bytes are not a
 * canonical encoding (see the module doc) of a `RelayMessageFrame`.
 *
 * @example
 * ```ts
 * import { encodeFrame } from "../relay/mod.ts";
 * peekFrame(encodeFrame({ streamId: "s", body: { case: "heartbeat", value: {} } }));
 * // { version: 1, streamId: "s", kind: "heartbeat" }
 * ```
 */
export function peekFrame(bytes: Uint8Array): FramePeek | undefined {
  let pos = 0;
  let version = 0;
  let streamId = "";
  let kind: FrameKind | undefined;
  let seen = 0; // bit per field number
  /** A varint of at most 5 bytes whose value fits 32 bits (what every decoder reads alike). */
  function varint32(): number | undefined {
    let result = 0;
    for (let i = 0; i < 5 && pos < bytes.length; i++) {
      const b = bytes[pos++];
      result += (b & 0x7f) * 2 ** (7 * i);
      if ((b & 0x80) === 0) {
        // A last byte of 0 (after the first) is padding: not minimal.
        if (i > 0 && b === 0) return undefined;
        return result <= 0xffffffff ? result : undefined;
      }
    }
    return undefined;
  }
  while (pos < bytes.length) {
    // Tags of fields 1..15 fit one byte; anything longer is not ours.
    const tag = bytes[pos++];
    if (tag & 0x80) return undefined;
    const field = tag >> 3;
    const wire = tag & 7;
    if (WIRE_TYPES[field] !== wire) return undefined;
    if (seen & (1 << field)) return undefined;
    seen |= 1 << field;
    if (wire === 0) {
      const value = varint32();
      if (value === undefined) return undefined;
      if (field === 1) version = value;
      continue;
    }
    const length = varint32();
    if (length === undefined || pos + length > bytes.length) return undefined;
    if (field === 2) {
      try {
        streamId = decoder.decode(bytes.subarray(pos, pos + length));
      } catch {
        return undefined;
      }
    } else if (BODY_KINDS[field]) {
      if (kind !== undefined) return undefined;
      kind = BODY_KINDS[field];
    }
    pos += length;
  }
  return { version, streamId, kind };
}
