/**
 * Reads just enough of a `RelayMessageFrame` to route it (version, `stream_id`, body kind)
 * without decoding or copying the payload: the rendezvous forwards the original bytes.
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

/** The oneof member a frame carries. */
export type FrameKind = "data" | "ack_frame" | "resume" | "reset" | "heartbeat" | "handshake";

/** What routing needs to know about a frame. */
export interface FramePeek {
  version: number;
  streamId: string;
  /** Last body member seen (proto3: the last one wins), or undefined when there is none. */
  kind: FrameKind | undefined;
}

const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Scans the top-level fields of an encoded frame; returns undefined when the bytes are not a
 * well-formed protobuf message.
 */
export function peekFrame(bytes: Uint8Array): FramePeek | undefined {
  let pos = 0;
  let version = 0;
  let streamId = "";
  let kind: FrameKind | undefined;
  function varint(): number | undefined {
    let result = 0;
    let shift = 0;
    while (pos < bytes.length) {
      const b = bytes[pos++];
      if (shift < 49) result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
      shift += 7;
      if (shift > 63) return undefined;
    }
    return undefined;
  }
  while (pos < bytes.length) {
    const tag = varint();
    if (tag === undefined) return undefined;
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (field === 0) return undefined;
    if (wire === 0) {
      const value = varint();
      if (value === undefined) return undefined;
      if (field === 1) version = value;
    } else if (wire === 2) {
      const length = varint();
      if (length === undefined || pos + length > bytes.length) return undefined;
      if (field === 2) {
        try {
          streamId = decoder.decode(bytes.subarray(pos, pos + length));
        } catch {
          return undefined;
        }
      } else if (BODY_KINDS[field]) {
        kind = BODY_KINDS[field];
      }
      pos += length;
    } else if (wire === 5) {
      pos += 4;
    } else if (wire === 1) {
      pos += 8;
    } else {
      return undefined;
    }
    if (pos > bytes.length) return undefined;
  }
  return { version, streamId, kind };
}
