/**
 * Send half of a reliable relay stream: segmentation, the bounded window of unacknowledged
 * segments, cumulative + selective ack processing, loss detection from acks (holes, and
 * RACK-style "a later transmission arrived") and one adaptive retransmission timer.
 * @module
 */
import { PACKED_LENGTH_BYTES, type ResolvedRelayOptions } from "./limits.ts";

/** One segment ready to go on the wire. */
export interface OutSegment {
  seq: number;
  index: number;
  count: number;
  payload: Uint8Array;
}

interface Inflight extends OutSegment {
  sentAt: number;
  /** Position of its latest transmission in this sender's send order. */
  order: number;
  transmissions: number;
  /** Queued for retransmission (in `#due`). */
  due: boolean;
  /** The pending retransmission is a fast one (decided by acks, not by the timer). */
  fast: boolean;
}

interface OutMessage {
  bytes: Uint8Array;
  offset: number;
  index: number;
  count: number;
}

/** Largest seq a u32 `seq` field can carry; the stream ends rather than wrap. */
const MAX_SEQ = 0xffff_ffff;

/**
 * A segment is a hole once a seq this far above it was acknowledged (TCP's duplicate-ack
 * threshold): a link that merely reorders a little does not trigger resends.
 */
const REORDER_SEGMENTS = 3;

/**
 * Sender state of one stream direction. Pure bookkeeping: the owning stream decides when to
 * call it and puts the segments into frames.
 */
export class Sender {
  /** Seq the next new segment gets. */
  nextSeq = 0;
  /** Bytes of queued messages not yet cut into sent segments. */
  outboxBytes = 0;
  /** Payload bytes sent and not yet acknowledged. */
  inflightBytes = 0;
  /** Highest seq the peer acknowledged cumulatively, -1 before any. */
  peerAck = -1;
  /** Current retransmission timeout in ms. */
  rto: number;
  /** Segments resent because acks showed a hole (before their timeout). */
  fastRetransmissions = 0;
  /**
   * Pack whole small messages into segments (the peer announced `FEATURE_PACKED`): one
   * segment, ack and frame per ~60 KiB instead of per message (a `process/output` is ~11 KiB),
   * so the 32 seqs the ack bits reach past a hole cover five times the bytes.
   */
  packing = false;
  #srtt: number | undefined;
  #rttvar = 0;
  /** Transmissions so far (the send order; many segments share one `now`). */
  #sendOrder = 0;
  /**
   * Send order of the most recently sent segment known to have arrived. The link delivers in
   * order, so an unacknowledged segment sent before it (and within the ack bits' reach) was
   * lost, whether it is a first copy or a resend: RACK (RFC 8985) in its simplest form.
   */
  #deliveredOrder = 0;
  /** Highest seq the peer acknowledged in any way (cumulative or selective), -1 before any. */
  #highestAcked = -1;
  #outbox: OutMessage[] = [];
  #inflight = new Map<number, Inflight>();
  #due: number[] = [];
  #options: ResolvedRelayOptions;

  constructor(options: ResolvedRelayOptions) {
    this.#options = options;
    this.rto = options.initialRtoMs;
  }

  /** Queues one message. */
  enqueue(bytes: Uint8Array, segmentBytes: number): void {
    const count = Math.max(1, Math.ceil(bytes.length / segmentBytes));
    this.#outbox.push({ bytes, offset: 0, index: 0, count });
    this.outboxBytes += bytes.length;
  }

  /** Number of segments sent and not acknowledged. */
  get inflightCount(): number {
    return this.#inflight.size;
  }

  /** True when nothing is queued or unacknowledged. */
  get idle(): boolean {
    return this.#outbox.length === 0 && this.#inflight.size === 0;
  }

  /** True when a queued message exists (whatever the window says). */
  get hasQueued(): boolean {
    return this.#outbox.length > 0;
  }

  /** True when the window admits the next new segment (of at most `segmentBytes`). */
  canSendNew(segmentBytes: number): boolean {
    const next = this.#outbox[0];
    if (next === undefined) return false;
    if (this.nextSeq > MAX_SEQ) return false;
    if (this.#inflight.size === 0) return true;
    if (this.#inflight.size >= this.#options.windowSegments) return false;
    // Selective acks free memory but never slide the window past the oldest hole.
    if (this.nextSeq - (this.peerAck + 1) >= this.#options.windowSegments) return false;
    const length = this.#packable(next, segmentBytes)
      ? Math.min(segmentBytes, this.outboxBytes + PACKED_LENGTH_BYTES * this.#outbox.length)
      : Math.min(segmentBytes, next.bytes.length - next.offset);
    return this.inflightBytes + length <= this.#options.windowBytes;
  }

  #packable(message: OutMessage, segmentBytes: number): boolean {
    return this.packing && message.offset === 0 &&
      message.bytes.length + PACKED_LENGTH_BYTES <= segmentBytes;
  }

  /** Cuts the packed payload of the queued small messages that fit one segment. */
  #takePacked(segmentBytes: number): Uint8Array {
    let size = 0;
    let count = 0;
    for (const message of this.#outbox) {
      const next = size + PACKED_LENGTH_BYTES + message.bytes.length;
      if (!this.#packable(message, segmentBytes) || next > segmentBytes) break;
      size = next;
      count++;
    }
    const payload = new Uint8Array(size);
    const view = new DataView(payload.buffer);
    let at = 0;
    for (const { bytes } of this.#outbox.splice(0, count)) {
      view.setUint32(at, bytes.length);
      payload.set(bytes, at + PACKED_LENGTH_BYTES);
      at += PACKED_LENGTH_BYTES + bytes.length;
      this.outboxBytes -= bytes.length;
    }
    return payload;
  }

  /** True once the seq space is used up (the stream must end). */
  get exhausted(): boolean {
    return this.nextSeq > MAX_SEQ && this.#outbox.length > 0;
  }

  /**
   * Takes the next new segment. `retain` keeps it for retransmission (reliable mode); legacy
   * peers get `segmentBytes = Infinity` (whole messages) and nothing is retained.
   */
  takeNew(segmentBytes: number, retain: boolean, now: number): OutSegment {
    const message = this.#outbox[0];
    let segment: OutSegment;
    if (retain && this.#packable(message, segmentBytes)) {
      segment = {
        seq: this.nextSeq++,
        index: 0,
        count: 1,
        payload: this.#takePacked(segmentBytes),
      };
    } else {
      const length = Math.min(segmentBytes, message.bytes.length - message.offset);
      segment = {
        seq: this.nextSeq++,
        index: message.index,
        count: segmentBytes === Infinity ? 1 : message.count,
        payload: message.bytes.subarray(message.offset, message.offset + length),
      };
      message.offset += length;
      message.index++;
      this.outboxBytes -= length;
      if (message.offset >= message.bytes.length) this.#outbox.shift();
    }
    const length = segment.payload.length;
    if (retain) {
      this.#inflight.set(segment.seq, {
        ...segment,
        sentAt: now,
        order: ++this.#sendOrder,
        transmissions: 1,
        due: false,
        fast: false,
      });
      this.inflightBytes += length;
    }
    return segment;
  }

  /** Takes the next segment due for retransmission, if any. */
  takeDue(now: number): OutSegment | undefined {
    while (this.#due.length > 0) {
      const seq = this.#due.shift()!;
      const segment = this.#inflight.get(seq);
      if (segment === undefined || !segment.due) continue;
      if (segment.fast) this.fastRetransmissions++;
      segment.due = false;
      segment.fast = false;
      segment.sentAt = now;
      segment.order = ++this.#sendOrder;
      segment.transmissions++;
      return segment;
    }
    return undefined;
  }

  /** True when a retransmission is waiting. */
  get hasDue(): boolean {
    for (const seq of this.#due) {
      if (this.#inflight.get(seq)?.due) return true;
    }
    this.#due.length = 0;
    return false;
  }

  /**
   * Applies the peer's `ack`/`ack_bits`.
   * @returns an error description if they name a seq that was never sent.
   */
  applyAck(ack: number | undefined, ackBits: number, now: number): string | undefined {
    const highestSent = this.nextSeq - 1;
    if (ack !== undefined && ack > highestSent) {
      return `ack ${ack} for an unsent seq (highest sent ${highestSent})`;
    }
    const base = (ack ?? -1) + 1;
    if (ackBits !== 0) {
      const highestBit = 31 - Math.clz32(ackBits);
      if (base + highestBit > highestSent) {
        return `ack_bits acknowledge seq ${
          base + highestBit
        }, never sent (highest sent ${highestSent})`;
      }
    }
    // One RTT sample per ack, from the most recently sent segment it newly acknowledges (the
    // one that most likely triggered it). Older ones may have waited behind a hole or beyond
    // the 32 ack bits, and would inflate the RTT estimate and with it the timeout. Karn: if
    // that segment was resent, either copy may have triggered the ack, so no sample.
    let youngest: Inflight | undefined;
    const release = (seq: number, segment: Inflight) => {
      if (youngest === undefined || segment.order > youngest.order) youngest = segment;
      if (this.#countsAsDelivered(segment) && segment.order > this.#deliveredOrder) {
        this.#deliveredOrder = segment.order;
      }
      this.#inflight.delete(seq);
      this.inflightBytes -= segment.payload.length;
    };
    if (ack !== undefined && ack > this.peerAck) {
      for (const [seq, segment] of this.#inflight) {
        if (seq > ack) break;
        release(seq, segment);
      }
      this.peerAck = ack;
    }
    for (let bits = ackBits, i = 0; bits !== 0; bits >>>= 1, i++) {
      if ((bits & 1) === 0) continue;
      const segment = this.#inflight.get(base + i);
      if (segment) release(base + i, segment);
    }
    const sampled: Inflight | undefined = youngest;
    if (sampled !== undefined && sampled.transmissions === 1) {
      this.#sampleRtt(now - sampled.sentAt);
    }
    const highest = ackBits === 0 ? ack ?? -1 : base + 31 - Math.clz32(ackBits);
    if (highest > this.#highestAcked) this.#highestAcked = highest;
    return undefined;
  }

  /**
   * Whether an acknowledged segment proves that everything sent before it and still
   * unacknowledged was lost (the link delivers in order). Only a first copy does: for a
   * resent one, the ack may be for an earlier copy, and under queueing delay (RTT samples
   * far above the minimum) no age test tells them apart.
   */
  #countsAsDelivered(segment: Inflight): boolean {
    return segment.transmissions === 1;
  }

  #sampleRtt(sample: number): void {
    if (this.#srtt === undefined) {
      this.#srtt = sample;
      this.#rttvar = sample / 2;
    } else {
      this.#rttvar = 0.75 * this.#rttvar + 0.25 * Math.abs(this.#srtt - sample);
      this.#srtt = 0.875 * this.#srtt + 0.125 * sample;
    }
    const { minRtoMs, maxRtoMs } = this.#options;
    this.rto = Math.min(maxRtoMs, Math.max(minRtoMs, this.#srtt + Math.max(1, 4 * this.#rttvar)));
  }

  /** Smoothed round-trip time, once measured. */
  get srtt(): number | undefined {
    return this.#srtt;
  }

  /**
   * Marks segments whose timeout expired, or that acks showed lost, as due (exponential
   * backoff per segment for the timeout).
   * @returns the earliest future deadline, or `undefined` if nothing is waiting for an ack.
   */
  scanTimeouts(now: number): number | undefined {
    let next: number | undefined;
    // Past the 32 ack bits the peer cannot acknowledge a segment until the hole before it is
    // filled, so such a segment's age says nothing about its loss: timing it out would resend
    // data that most likely arrived. The oldest segment's timer keeps the stream alive.
    const lastVisible = this.peerAck + 32;
    let oldest = true;
    for (const [seq, segment] of this.#inflight) {
      if (seq > lastVisible) break;
      const first = oldest;
      oldest = false;
      if (segment.due) continue;
      let deadline = Infinity;
      let fast = false;
      if (segment.order < this.#deliveredOrder) {
        // Something sent after this segment arrived and this one did not: lost. Covers the
        // last segments before the window filled (no three later seqs to show the hole) and
        // resends that were lost again, without waiting for a timer.
        deadline = now;
        fast = true;
      } else if (seq + REORDER_SEGMENTS <= this.#highestAcked) {
        // A hole: later seqs arrived, this one did not. Waiting for its timeout would stall
        // in-order delivery and pin the window, so resend now. A first copy is already about
        // an RTT old when acks for later seqs come back; a resent copy waits one RTT estimate
        // (plus its deviation) since its last send, as it may still be on its way, so each
        // hole is fast-resent at most once per RTT however many acks arrive: no storms.
        const guard = segment.transmissions === 1
          ? 0
          : this.#srtt === undefined
          ? this.rto
          : this.#srtt + this.#rttvar;
        deadline = segment.sentAt + guard;
        fast = true;
      }
      if (first) {
        // Only the oldest segment has a retransmission timer (exponential backoff): when the
        // acks stop, one resend is enough to learn what the peer holds (its answer carries the
        // whole ack state); timing out every segment resent a window of data the peer had,
        // because the acks were lost or late, not the data.
        const backoff = Math.min(
          this.#options.maxRtoMs,
          this.rto * 2 ** Math.min(segment.transmissions - 1, 8),
        );
        if (segment.sentAt + backoff < deadline) {
          deadline = segment.sentAt + backoff;
          fast = false;
        }
      }
      if (deadline <= now) {
        segment.due = true;
        segment.fast = fast;
        this.#due.push(seq);
      } else if (deadline !== Infinity && (next === undefined || deadline < next)) {
        next = deadline;
      }
    }
    return next;
  }

  /** Marks every unacknowledged segment from `fromSeq` on as due now (after a resume). */
  markDueFrom(fromSeq: number): void {
    for (const [seq, segment] of this.#inflight) {
      if (seq < fromSeq || segment.due) continue;
      segment.due = true;
      segment.fast = false;
      this.#due.push(seq);
    }
  }

  /** Forgets everything unacknowledged (the peer turned out not to ack). */
  dropInflight(): void {
    this.#inflight.clear();
    this.#due.length = 0;
    this.inflightBytes = 0;
  }
}
