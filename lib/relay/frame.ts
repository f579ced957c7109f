/**
 * Relay frame codec: protobuf `RelayMessageFrame` (generated in `gen/`) plus the validation
 * every received frame passes before anything else looks at it (spec §1.3, extended for
 * segmentation).
 * @module
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import {
  type RelayData,
  type RelayMessageFrame,
  RelayMessageFrameSchema,
} from "./gen/codex/exec_server/relay/v1/relay_pb.ts";
import { RelayError } from "./errors.ts";
import { encodeFrameFast } from "./_frame_encode.ts";
import { decodeFrameFast } from "./_frame_decode.ts";
import { MAX_STREAM_ID_BYTES, RELAY_FRAME_VERSION } from "./limits.ts";

export type { RelayData, RelayMessageFrame };
export { RelayMessageFrameSchema };

/**
 * Fields of a frame to encode; `version` defaults to 1.
 * @example
 * ```ts
 * import type { RelayFrameInit } from "./frame.ts";
 * const init: RelayFrameInit = { streamId: "s", ack: 4, body: { case: "ackFrame", value: {} } };
 * ```
 */
export type RelayFrameInit = MessageInitShape<typeof RelayMessageFrameSchema>;

const encoder = new TextEncoder();

/**
 * Encodes one frame as the bytes of one binary websocket message (standard proto3 binary:
 * default scalars omitted, empty oneof members still emitted; the bytes protobuf-es writes,
 * by a direct encoder, see `_frame_encode.ts`).
 *
 * @example
 * ```ts
 * import { encodeFrame } from "./frame.ts";
 * const bytes = encodeFrame({ streamId: "s", body: { case: "resume", value: {} } });
 * // bytes: 08 01 12 01 73 3a 00
 * ```
 */
export function encodeFrame(init: RelayFrameInit): Uint8Array {
  return encodeFrameFast(init);
}

/**
 * Decodes one websocket message and checks the frame-level rules: version 1, a non-empty
 * `stream_id` of at most 128 bytes, a body, a non-empty `reset.reason` and `handshake.payload`.
 * Data segment fields are checked by {@linkcode checkDataSegment} because a bad segment resets
 * its stream instead of being dropped.
 *
 * @throws {RelayError} code `invalid_frame`, with a message fit for a log line.
 * @example
 * ```ts
 * import { decodeFrame } from "./frame.ts";
 * const frame = decodeFrame(new Uint8Array([0x08, 0x01, 0x12, 0x01, 0x73, 0x3a, 0x00]));
 * frame.body.case; // "resume"
 * ```
 */
export function decodeFrame(bytes: Uint8Array): RelayMessageFrame {
  let frame: RelayMessageFrame;
  try {
    frame = decodeFrameFast(bytes);
  } catch (error) {
    throw new RelayError(
      "invalid_frame",
      `undecodable relay frame (${bytes.length} bytes): ${(error as Error).message}`,
    );
  }
  if (frame.version !== RELAY_FRAME_VERSION) {
    throw new RelayError(
      "invalid_frame",
      `unsupported relay message frame version ${frame.version}`,
    );
  }
  if (frame.streamId.trim() === "") {
    throw new RelayError("invalid_frame", "relay frame has an empty stream_id");
  }
  const idBytes = encoder.encode(frame.streamId).length;
  if (idBytes > MAX_STREAM_ID_BYTES) {
    throw new RelayError(
      "invalid_frame",
      `relay frame stream_id is ${idBytes} bytes, over the ${MAX_STREAM_ID_BYTES}-byte limit`,
    );
  }
  switch (frame.body.case) {
    case undefined:
      throw new RelayError("invalid_frame", `relay frame for stream ${frame.streamId} has no body`);
    case "reset":
      if (frame.body.value.reason === "") {
        throw new RelayError(
          "invalid_frame",
          `relay reset for stream ${frame.streamId} has no reason`,
        );
      }
      break;
    case "handshake":
      if (frame.body.value.payload.length === 0) {
        throw new RelayError(
          "invalid_frame",
          `relay handshake for stream ${frame.streamId} is empty`,
        );
      }
      break;
  }
  return frame;
}

/**
 * Bounds a data segment is checked against.
 * @example
 * ```ts
 * import type { SegmentLimits } from "./frame.ts";
 * const limits: SegmentLimits = { segmentBytes: 61440, maxMessageBytes: 1 << 26, legacy: false };
 * ```
 */
export interface SegmentLimits {
  /** Largest payload of one segment of a multi-segment message. */
  segmentBytes: number;
  /** Largest whole message (bounds `segment_count`). */
  maxMessageBytes: number;
  /** Legacy peers never segment: `segment_count` must be 1. */
  legacy: boolean;
}

/**
 * Checks the segment fields of a `data` body: non-empty payload, `segment_index <
 * segment_count`, a count that cannot describe a message over the limit, segment payloads no
 * larger than a segment (a single-segment message may be larger: legacy peers send whole
 * messages).
 *
 * @returns a description of the first violation, or `undefined` if the segment is valid.
 * @example
 * ```ts
 * import { checkDataSegment } from "./frame.ts";
 * import { create } from "@bufbuild/protobuf";
 * import { RelayDataSchema } from "./gen/codex/exec_server/relay/v1/relay_pb.ts";
 * const data = create(RelayDataSchema, { segmentCount: 0, payload: new Uint8Array([1]) });
 * checkDataSegment(data, { segmentBytes: 61440, maxMessageBytes: 1 << 26, legacy: false });
 * // "segment_count 0 is not positive"
 * ```
 */
export function checkDataSegment(data: RelayData, limits: SegmentLimits): string | undefined {
  if (data.payload.length === 0) return "data payload is empty";
  if (data.segmentCount === 0) return "segment_count 0 is not positive";
  if (data.segmentIndex >= data.segmentCount) {
    return `segment_index ${data.segmentIndex} is not below segment_count ${data.segmentCount}`;
  }
  if (data.segmentIndex > data.seq) {
    return `segment_index ${data.segmentIndex} is above seq ${data.seq}`;
  }
  if (limits.legacy && data.segmentCount !== 1) {
    return `segment_count ${data.segmentCount} on a stream whose peer never negotiated segmentation`;
  }
  if (data.segmentCount > 1) {
    // Peers may cut smaller segments than ours, so only "at least one byte per segment" bounds
    // the count; reassembly itself is bounded by bytes.
    const maxCount = limits.maxMessageBytes;
    if (data.segmentCount > maxCount) {
      return `segment_count ${data.segmentCount} exceeds ${maxCount} (message limit ${limits.maxMessageBytes} bytes)`;
    }
    if (data.payload.length > limits.segmentBytes) {
      return `segment payload of ${data.payload.length} bytes exceeds ${limits.segmentBytes}`;
    }
  }
  return undefined;
}
