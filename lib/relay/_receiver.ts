/**
 * Receive half of a reliable relay stream: duplicate suppression, a bounded reorder buffer,
 * reassembly of segmented messages (`message_start_seq = seq - segment_index`) and the ack
 * state advertised back to the peer.
 * @module
 */
import { OversizedMessage } from "../transport/types.ts";
import type { RelayData } from "./frame.ts";
import { PACKED_LENGTH_BYTES, type ResolvedRelayOptions } from "./limits.ts";

/** What became of one received segment. */
export type AcceptResult =
  /** Taken (delivered, reassembled or buffered out of order). */
  | { kind: "accepted" }
  /** Already received; the peer evidently missed our ack. */
  | { kind: "duplicate" }
  /** Not kept (beyond the receive window or the application is behind); the peer resends it. */
  | { kind: "dropped"; why: string }
  /** The peer broke the segmentation rules; the stream must be reset. */
  | { kind: "error"; why: string };

interface Assembly {
  count: number;
  nextIndex: number;
  chunks: Uint8Array[];
  bytes: number;
  oversized: boolean;
}

/** Receiver state of one stream direction; completed messages go to `deliver`. */
export class Receiver {
  /** Next seq expected in order (everything below it was received). */
  expected = 0;
  /** Bytes held out of order. */
  reorderBytes = 0;
  /**
   * Reads packed segments (`segment_count` 1, payload starting with a zero byte, see
   * `FEATURE_PACKED`). Set on reliable streams only: legacy peers' payloads are taken as they are.
   */
  unpack = false;
  #reorder = new Map<number, RelayData>();
  #assembly: Assembly | undefined;
  #options: ResolvedRelayOptions;
  #deliver: (message: Uint8Array | OversizedMessage) => void;

  /**
   * @param options limits (`receiveWindowSegments`, `receiveWindowBytes`, `maxMessageBytes`)
   * @param deliver gets each complete message once, in order
   */
  constructor(
    options: ResolvedRelayOptions,
    deliver: (message: Uint8Array | OversizedMessage) => void,
  ) {
    this.#options = options;
    this.#deliver = deliver;
  }

  /** Bytes of the message being reassembled. */
  get assemblyBytes(): number {
    const assembly = this.#assembly;
    return assembly && !assembly.oversized ? assembly.bytes : 0;
  }

  /** Segments held out of order. */
  get reorderCount(): number {
    return this.#reorder.size;
  }

  /** Cumulative ack to advertise: highest contiguous seq, `undefined` before seq 0 arrived. */
  get ack(): number | undefined {
    return this.expected === 0 ? undefined : this.expected - 1;
  }

  /** Bit i set when seq `ack + 1 + i` is held out of order (bit 0, the hole, is never set). */
  get ackBits(): number {
    if (this.#reorder.size === 0) return 0;
    let bits = 0;
    for (const seq of this.#reorder.keys()) {
      const i = seq - this.expected;
      if (i > 0 && i < 32) bits |= 1 << i;
    }
    return bits >>> 0;
  }

  /**
   * Takes one valid data segment (fields already checked by `checkDataSegment`).
   * @param blocked true while the application queue is full: in-order segments are refused.
   */
  accept(data: RelayData, blocked: boolean): AcceptResult {
    const seq = data.seq;
    if (seq < this.expected || this.#reorder.has(seq)) return { kind: "duplicate" };
    if (seq > this.expected) {
      if (seq - this.expected >= this.#options.receiveWindowSegments) {
        return { kind: "dropped", why: `seq ${seq} is beyond the receive window` };
      }
      if (this.reorderBytes + data.payload.length > this.#options.receiveWindowBytes) {
        return { kind: "dropped", why: "reorder buffer is full" };
      }
      this.#reorder.set(seq, data);
      this.reorderBytes += data.payload.length;
      return { kind: "accepted" };
    }
    if (blocked) return { kind: "dropped", why: "application is behind" };
    const error = this.#consume(data);
    if (error) return { kind: "error", why: error };
    for (
      let next = this.#reorder.get(this.expected);
      next;
      next = this.#reorder.get(this.expected)
    ) {
      this.#reorder.delete(this.expected);
      this.reorderBytes -= next.payload.length;
      const nextError = this.#consume(next);
      if (nextError) return { kind: "error", why: nextError };
    }
    return { kind: "accepted" };
  }

  #consume(data: RelayData): string | undefined {
    this.expected++;
    const assembly = this.#assembly;
    if (data.segmentIndex === 0) {
      if (assembly) {
        return `seq ${data.seq} starts a message before the previous one (${assembly.nextIndex}/${assembly.count} segments) ended`;
      }
      if (data.segmentCount === 1 && this.unpack && data.payload[0] === 0) {
        return this.#unpackSegment(data);
      }
      if (data.segmentCount === 1) {
        this.#deliver(
          data.payload.length > this.#options.maxMessageBytes
            ? new OversizedMessage(this.#options.maxMessageBytes)
            : data.payload,
        );
        return undefined;
      }
      this.#assembly = {
        count: data.segmentCount,
        nextIndex: 1,
        chunks: [data.payload],
        bytes: data.payload.length,
        oversized: false,
      };
      return undefined;
    }
    if (!assembly) {
      return `seq ${data.seq} continues a message (segment_index ${data.segmentIndex}) that never started`;
    }
    if (data.segmentIndex !== assembly.nextIndex || data.segmentCount !== assembly.count) {
      return `seq ${data.seq} has segment ${data.segmentIndex}/${data.segmentCount}, expected ${assembly.nextIndex}/${assembly.count}`;
    }
    assembly.nextIndex++;
    if (!assembly.oversized) {
      if (assembly.bytes + data.payload.length > this.#options.maxMessageBytes) {
        // Bounded memory: stop keeping the message, still consume its remaining segments.
        assembly.oversized = true;
        assembly.chunks = [];
      } else {
        assembly.chunks.push(data.payload);
      }
      assembly.bytes += data.payload.length;
    }
    if (assembly.nextIndex < assembly.count) return undefined;
    this.#assembly = undefined;
    if (assembly.oversized) {
      this.#deliver(new OversizedMessage(this.#options.maxMessageBytes));
      return undefined;
    }
    const message = new Uint8Array(assembly.bytes);
    let offset = 0;
    for (const chunk of assembly.chunks) {
      message.set(chunk, offset);
      offset += chunk.length;
    }
    this.#deliver(message);
    return undefined;
  }

  /** Delivers the messages of a packed segment; a malformed one ends the stream. */
  #unpackSegment(data: RelayData): string | undefined {
    const payload = data.payload;
    const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
    const messages: (Uint8Array | OversizedMessage)[] = [];
    for (let at = 0; at < payload.length;) {
      if (payload.length - at < PACKED_LENGTH_BYTES) {
        return `seq ${data.seq}: packed segment ends inside a message length`;
      }
      const length = view.getUint32(at);
      const start = at + PACKED_LENGTH_BYTES;
      if (length === 0 || length > payload.length - start) {
        return `seq ${data.seq}: packed message of ${length} bytes does not fit its segment`;
      }
      messages.push(
        length > this.#options.maxMessageBytes
          ? new OversizedMessage(this.#options.maxMessageBytes)
          : payload.subarray(start, start + length),
      );
      at = start + length;
    }
    // Checked whole before any is delivered: a malformed segment delivers nothing.
    for (const message of messages) this.#deliver(message);
    return undefined;
  }

  /** Frees everything held (the stream ended). */
  clear(): void {
    this.#reorder.clear();
    this.reorderBytes = 0;
    this.#assembly = undefined;
  }
}
