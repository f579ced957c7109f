/**
 * One relay stream (one `stream_id`, both directions) exposed as a `MessageTransport`.
 * Turns negotiation ({@link Negotiation}), sender and receiver state into frames when the
 * endpoint's scheduler pulls, hands complete messages to its {@link Inbox}, and ends with a
 * `reset`.
 * @module
 */
import type { Inbound, MessageTransport } from "../transport/types.ts";
import { RelayError } from "./errors.ts";
import { EXECUTOR_SHUTDOWN_REASON, SHUTDOWN_CLOSE_INFO } from "./executor_shutdown.ts";
import {
  checkDataSegment,
  encodeFrame,
  type RelayFrameInit,
  type RelayMessageFrame,
} from "./frame.ts";
import {
  FEATURE_PACKED,
  MAX_RESET_REASON_BYTES,
  type ResolvedRelayOptions,
  SEGMENT_BYTES,
} from "./limits.ts";
import { Receiver } from "./_receiver.ts";
import { type OutSegment, Sender } from "./_sender.ts";
import { Inbox } from "./_inbox.ts";
import { Negotiation, type StreamMode, type StreamRole } from "./_negotiation.ts";

export type { StreamMode, StreamRole };

/** What a stream needs from the endpoint that multiplexes it. */
export interface StreamHost {
  /** The stream has frames to send; schedule a `pull`. */
  markReady(stream: RelayStream): void;
  /** The stream ended; forget it. */
  finalized(stream: RelayStream): void;
  /** Whether a link is attached right now (frames can be sent). */
  readonly attached: boolean;
  /** Label of the current link, for messages. */
  readonly linkLabel: string;
}

/** Memory held by one stream, for tests and diagnostics. */
export interface StreamStats {
  /** Negotiated mode. */
  mode: StreamMode;
  /** Segments sent and not yet acknowledged (at most `windowSegments`). */
  inflightSegments: number;
  /** Payload bytes sent and not yet acknowledged (at most `windowBytes`). */
  inflightBytes: number;
  /** Bytes queued by `send()` and not yet sent. */
  outboxBytes: number;
  /** Segments received out of order and held. */
  reorderSegments: number;
  /** Bytes received out of order and held (at most `receiveWindowBytes`). */
  reorderBytes: number;
  /** Bytes of the partially reassembled message (at most `maxMessageBytes`). */
  assemblyBytes: number;
  /** Bytes of complete messages the application has not read yet. */
  deliveryQueueBytes: number;
  /** Next seq this side will send. */
  sentSeq: number;
  /** Next seq this side expects. */
  expectedSeq: number;
  /** Current retransmission timeout. */
  rtoMs: number;
  /** Segments sent more than once so far. */
  retransmissions: number;
  /** Of those, resent because acks showed a hole rather than after the timeout. */
  fastRetransmissions: number;
}

const encoder = new TextEncoder();

function truncate(text: string, bytes: number): string {
  return text.length <= bytes ? text : `${text.slice(0, bytes)}…`;
}

/** One multiplexed stream; the endpoint creates it, the application sees a `MessageTransport`. */
export class RelayStream implements MessageTransport {
  readonly id: string;
  readonly role: StreamRole;
  /** Last time any frame for this stream arrived (ms, `performance.now()`). */
  lastInboundAt: number;
  readonly closed: Promise<void>;

  #host: StreamHost;
  #options: ResolvedRelayOptions;
  #sender: Sender;
  #receiver: Receiver;
  #resolveClosed: () => void;

  #inbox: Inbox;
  #negotiation: Negotiation;
  #flowBlocked = false;
  #sendWaiters: { resolve: () => void; reject: (error: Error) => void }[] = [];

  #ackPending = false;
  /** Executor: the next `ack_frame` answers a hello, so it carries our features. */
  #announcePending = false;
  #resumePending = false;
  #heartbeatPending = false;
  #lastHeartbeatAt = 0;
  #retransmitOnNextAck = false;
  #retransmissions = 0;

  #draining = false;
  #closeDeadline = Infinity;
  #resetReason: string | undefined;
  #finalized = false;
  #endReason: string | undefined;

  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerAt = Infinity;

  constructor(
    host: StreamHost,
    init: { id: string; role: StreamRole; options: ResolvedRelayOptions },
  ) {
    this.#host = host;
    this.id = init.id;
    this.role = init.role;
    this.#options = init.options;
    this.#sender = new Sender(init.options);
    this.#inbox = new Inbox(() => this.#maybeUnblock());
    this.#receiver = new Receiver(init.options, (message) => this.#inbox.push(message));
    // Our harness announces packing on every hello, so it must read packed segments whatever
    // mode it settles: an executor that saw a hello packs even if its answer came too late and
    // this side already took it for a legacy one. (Upstream executors never send a zero byte
    // first: their payloads are JSON.)
    this.#receiver.unpack = init.role === "harness";
    this.lastInboundAt = performance.now();
    this.#negotiation = new Negotiation(init.role, init.options, this.lastInboundAt);
    const { promise, resolve } = Promise.withResolvers<void>();
    this.closed = promise;
    this.#resolveClosed = resolve;
    this.#arm(this.#negotiation.nextAt);
  }

  /** Negotiated mode: `pending` until the peer has shown whether it acks. */
  get mode(): StreamMode {
    return this.#negotiation.mode;
  }

  get label(): string {
    return `relay stream ${this.id} via ${this.#host.linkLabel}`;
  }

  /** Why the stream ended, once it has. */
  get endReason(): string | undefined {
    return this.#endReason;
  }

  /** Set when the executor reset the stream because it is shutting down (websocket-style 1001). */
  get closeInfo(): { code: number; reason: string } | undefined {
    return this.#endReason === `reset by peer (${EXECUTOR_SHUTDOWN_REASON})`
      ? { ...SHUTDOWN_CLOSE_INFO }
      : undefined;
  }

  // ---- MessageTransport -------------------------------------------------------------------

  receive(): AsyncIterable<Inbound> {
    return this.#inbox.read();
  }

  send(text: string): Promise<void> {
    if (this.#finalized || this.#draining || this.#resetReason !== undefined) {
      return Promise.reject(
        new RelayError(
          "stream_closed",
          `${this.label} is closed (${this.#endReason ?? "closing"}); reconnect to continue`,
        ),
      );
    }
    const bytes = encoder.encode(text);
    if (bytes.length === 0) {
      return Promise.reject(
        new RelayError("invalid_message", "cannot send an empty relay message"),
      );
    }
    if (bytes[0] === 0) {
      // A leading zero byte marks a packed segment (FEATURE_PACKED); JSON text never has one.
      return Promise.reject(
        new RelayError("invalid_message", "a relay message cannot start with a NUL character"),
      );
    }
    this.#sender.enqueue(bytes, SEGMENT_BYTES);
    this.#host.markReady(this);
    if (this.#sender.outboxBytes <= this.#options.sendBufferBytes) return Promise.resolve();
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    this.#sendWaiters.push({ resolve, reject });
    return promise;
  }

  close(): void {
    if (this.#finalized || this.#draining || this.#resetReason !== undefined) return;
    this.#endReceive();
    if (!this.#host.attached || this.mode === "pending") {
      this.#resetReason = "closed";
      if (!this.#host.attached) this.#finalize("closed locally");
      else this.#host.markReady(this);
      return;
    }
    this.#draining = true;
    this.#closeDeadline = performance.now() + this.#options.closeTimeoutMs;
    this.#arm(this.#closeDeadline);
    this.#checkDrained();
    this.#host.markReady(this);
  }

  // ---- endpoint side ----------------------------------------------------------------------

  /** Current memory use and counters. */
  stats(): StreamStats {
    return {
      mode: this.mode,
      inflightSegments: this.#sender.inflightCount,
      inflightBytes: this.#sender.inflightBytes,
      outboxBytes: this.#sender.outboxBytes,
      reorderSegments: this.#receiver.reorderCount,
      reorderBytes: this.#receiver.reorderBytes,
      assemblyBytes: this.#receiver.assemblyBytes,
      deliveryQueueBytes: this.#inbox.bytes,
      sentSeq: this.#sender.nextSeq,
      expectedSeq: this.#receiver.expected,
      rtoMs: this.#sender.rto,
      retransmissions: this.#retransmissions,
      fastRetransmissions: this.#sender.fastRetransmissions,
    };
  }

  /** True when the stream ended. */
  get finalized(): boolean {
    return this.#finalized;
  }

  /** Handles one validated frame addressed to this stream. */
  onFrame(frame: RelayMessageFrame, now: number): void {
    if (this.#finalized) return;
    this.lastInboundAt = now;
    const body = frame.body;
    if (body.case === "reset") {
      this.#finalize(`reset by peer (${truncate(body.value.reason, MAX_RESET_REASON_BYTES)})`);
      return;
    }
    if (this.#resetReason !== undefined) return;
    if (body.case === "handshake") {
      this.fail(
        "noise_not_supported",
        "peer sent a Noise handshake; this relay endpoint speaks cleartext only",
      );
      return;
    }
    if (this.#negotiation.observe(frame) === "legacy") this.#sender.dropInflight();
    if (this.mode === "reliable") {
      // The executor announces packing in its answer to every hello (legacy streams: never).
      this.#receiver.unpack = true;
      const problem = this.#sender.applyAck(frame.ack, frame.ackBits, now);
      if (problem) {
        this.fail("relay_protocol_error", problem);
        return;
      }
      if (this.#retransmitOnNextAck) {
        // Nothing of ours is in flight on a fresh link: whatever is still unacked was lost.
        this.#retransmitOnNextAck = false;
        this.#sender.markDueFrom(0);
      }
      this.#checkDrained();
      this.#resolveSendWaiters();
    }
    switch (body.case) {
      case "data":
        this.#onData(frame, now);
        break;
      case "ackFrame":
        if (
          this.mode === "reliable" && this.#options.packMessages &&
          (body.value.features & FEATURE_PACKED) !== 0
        ) {
          this.#sender.packing = true;
        }
        // An `ack_frame` that acknowledges nothing is a peer announcing it acks: answer so it
        // learns we ack too (and what we accept). Harnesses never answer, so this cannot loop.
        if (this.role === "executor" && frame.ack === undefined) {
          this.#ackPending = true;
          this.#announcePending = true;
        }
        break;
      case "resume":
        if (this.mode === "reliable") this.#onResume(body.value.nextSeq, now);
        break;
      case "heartbeat":
        this.#ackPending = true;
        break;
    }
    if (this.hasWork()) this.#host.markReady(this);
    this.#rearm(now);
  }

  #onData(frame: RelayMessageFrame, _now: number): void {
    if (frame.body.case !== "data") return;
    const data = frame.body.value;
    const problem = checkDataSegment(data, {
      segmentBytes: SEGMENT_BYTES,
      maxMessageBytes: this.#options.maxMessageBytes,
      legacy: this.mode === "legacy",
    });
    if (problem) {
      this.fail("relay_protocol_error", `invalid data frame seq ${data.seq}: ${problem}`);
      return;
    }
    const reliable = this.mode === "reliable";
    const blocked = reliable && this.#inbox.bytes >= this.#options.deliveryQueueBytes;
    const result = this.#receiver.accept(data, blocked);
    switch (result.kind) {
      case "error":
        this.fail("relay_protocol_error", result.why);
        return;
      case "dropped":
        if (blocked) this.#flowBlocked = true;
        break;
    }
    if (!reliable && this.#inbox.bytes > this.#options.deliveryQueueBytes) {
      this.fail(
        "application_backpressure",
        "application is not reading; legacy peers cannot be paused",
      );
      return;
    }
    if (reliable) this.#ackPending = true;
  }

  #onResume(nextSeq: number, now: number): void {
    if (nextSeq > this.#sender.nextSeq) {
      this.fail(
        "relay_protocol_error",
        `resume next_seq ${nextSeq} is beyond the next seq ${this.#sender.nextSeq} we would send`,
      );
      return;
    }
    if (nextSeq > 0) {
      const problem = this.#sender.applyAck(nextSeq - 1, 0, now);
      if (problem) {
        this.fail("relay_protocol_error", problem);
        return;
      }
    }
    this.#sender.markDueFrom(nextSeq);
    this.#ackPending = true;
    this.#checkDrained();
    this.#resolveSendWaiters();
  }

  /** Resets the stream with `reason` after logging `detail`. */
  fail(reason: string, detail: string): void {
    if (this.#finalized || this.#resetReason !== undefined) return;
    this.#options.log(`relay: ${this.label}: ${detail}; resetting the stream (${reason})`);
    this.reset(reason);
  }

  /** Ends the stream now with a `reset{reason}` to the peer (unsent data is dropped). */
  reset(reason: string): void {
    if (this.#finalized || this.#resetReason !== undefined) return;
    this.#draining = false;
    this.#resetReason = reason;
    this.#endReceive();
    if (!this.#host.attached) this.#finalize(reason);
    else this.#host.markReady(this);
  }

  /**
   * Periodic liveness check from the endpoint: queues a heartbeat when the stream has been
   * silent for a heartbeat interval.
   * @returns true if the stream has been silent for twice `deadAfterMs` (its peer is gone).
   */
  tick(now: number): boolean {
    if (this.#finalized || this.mode !== "reliable") return false;
    const silent = now - this.lastInboundAt;
    if (silent >= 2 * this.#options.deadAfterMs) return true;
    if (
      silent >= this.#options.heartbeatIntervalMs &&
      now - this.#lastHeartbeatAt >= this.#options.heartbeatIntervalMs
    ) {
      this.#heartbeatPending = true;
      this.#lastHeartbeatAt = now;
      this.#host.markReady(this);
    }
    return false;
  }

  /** The link went away; only reliable streams can survive until a new link comes. */
  linkLost(reason: string): void {
    if (this.#finalized) return;
    if (this.mode !== "reliable" || this.#resetReason !== undefined) {
      this.#finalize(`link lost: ${reason}`);
    }
  }

  /** A new link replaced a lost one: ask the peer to resend from our next expected seq. */
  linkReplaced(now: number): void {
    if (this.#finalized) return;
    // Give the peer a full dead-line to answer on the new link, but no more: a peer that
    // vanished while we were detached must still time out.
    this.lastInboundAt = Math.max(this.lastInboundAt, now - this.#options.deadAfterMs);
    this.#resumePending = true;
    this.#retransmitOnNextAck = true;
    this.#host.markReady(this);
  }

  /** Ends the stream without sending anything (the endpoint is shutting down). */
  abort(reason: string): void {
    this.#finalize(reason);
  }

  /** True when `pull` would return a frame. */
  hasWork(): boolean {
    if (this.#finalized) return false;
    if (this.#resetReason !== undefined) return true;
    if (this.mode === "pending") {
      return this.#negotiation.due || this.#ackPending;
    }
    if (this.#resumePending || this.#heartbeatPending || this.#ackPending) return true;
    if (this.mode === "reliable") {
      return this.#sender.hasDue || this.#sender.canSendNew(SEGMENT_BYTES) ||
        this.#sender.exhausted;
    }
    return this.#sender.hasQueued;
  }

  /** The next frame to write, or `undefined`. Called by the endpoint's fair scheduler. */
  pull(now: number): Uint8Array | undefined {
    if (this.#finalized) return undefined;
    if (this.#resetReason !== undefined) {
      const reason = this.#resetReason;
      const frame = this.#frame({ body: { case: "reset", value: { reason } } });
      this.#finalize(reason === "closed" ? "closed locally" : `reset locally (${reason})`);
      return frame;
    }
    if (this.mode === "pending") return this.#pullPending(now);
    if (this.#sender.exhausted) {
      // 2^32 segments: the u32 seq cannot go on without becoming ambiguous.
      this.reset("seq_exhausted");
      return this.pull(now);
    }
    let frame: Uint8Array | undefined;
    if (this.#resumePending) {
      this.#resumePending = false;
      frame = this.#frame({
        body: { case: "resume", value: { nextSeq: this.#receiver.expected } },
      });
    } else if (this.mode === "reliable") {
      const due = this.#sender.takeDue(now);
      if (due) {
        this.#retransmissions++;
        frame = this.#dataFrame(due);
      } else if (this.#sender.canSendNew(SEGMENT_BYTES)) {
        frame = this.#dataFrame(this.#sender.takeNew(SEGMENT_BYTES, true, now));
      }
      if (frame) this.#rearm(now);
    } else if (this.#sender.hasQueued) {
      frame = this.#dataFrame(this.#sender.takeNew(Infinity, false, now));
    }
    if (frame) {
      this.#resolveSendWaiters();
      this.#checkDrained();
    } else if (this.#heartbeatPending) {
      this.#heartbeatPending = false;
      frame = this.#frame({ body: { case: "heartbeat", value: {} } });
    } else if (this.#ackPending) {
      const features = this.#announcePending ? FEATURE_PACKED : 0;
      this.#announcePending = false;
      frame = this.#frame({ body: { case: "ackFrame", value: { features } } });
    }
    return frame;
  }

  #pullPending(now: number): Uint8Array | undefined {
    const step = this.#negotiation.take(now);
    if (step === "resume") return this.#frame({ body: { case: "resume", value: { nextSeq: 0 } } });
    if (step === "hello") this.#arm(this.#negotiation.nextAt);
    if (step === "hello" || this.#ackPending) {
      // Every hello says what we accept; the executor's answer says what it accepts.
      return this.#frame({ body: { case: "ackFrame", value: { features: FEATURE_PACKED } } });
    }
    return undefined;
  }

  #dataFrame(segment: OutSegment): Uint8Array {
    return this.#frame({
      body: {
        case: "data",
        value: {
          seq: segment.seq,
          segmentIndex: segment.index,
          segmentCount: segment.count,
          payload: segment.payload,
        },
      },
    });
  }

  #frame(init: RelayFrameInit): Uint8Array {
    this.#ackPending = false;
    if (this.mode === "legacy") {
      // Upstream peers never ack; send exactly what they send.
      return encodeFrame({ streamId: this.id, ...init });
    }
    return encodeFrame({
      streamId: this.id,
      ack: this.#receiver.ack,
      ackBits: this.#receiver.ackBits,
      ...init,
    });
  }

  // ---- internals --------------------------------------------------------------------------

  #maybeUnblock(): void {
    if (!this.#flowBlocked || this.#inbox.bytes > this.#options.deliveryQueueBytes / 2) return;
    this.#flowBlocked = false;
    // `resume` asks the peer to resend what we refused right away instead of after its timeout.
    this.#resumePending = true;
    this.#host.markReady(this);
  }

  #endReceive(): void {
    this.#inbox.discard();
  }

  #resolveSendWaiters(): void {
    if (
      this.#sendWaiters.length === 0 || this.#sender.outboxBytes > this.#options.sendBufferBytes
    ) return;
    for (const waiter of this.#sendWaiters.splice(0)) waiter.resolve();
  }

  #checkDrained(): void {
    if (this.#draining && this.#resetReason === undefined && this.#sender.idle) {
      this.#resetReason = "closed";
      this.#host.markReady(this);
    }
  }

  #finalize(reason: string): void {
    if (this.#finalized) return;
    this.#finalized = true;
    this.#endReason = reason;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#receiver.clear();
    this.#sender.dropInflight();
    const error = new RelayError("stream_closed", `${this.label} closed: ${reason}`);
    for (const waiter of this.#sendWaiters.splice(0)) waiter.reject(error);
    this.#inbox.close();
    this.#resolveClosed();
    this.#host.finalized(this);
  }

  /** Makes sure a timer fires no later than `at`. */
  #arm(at: number): void {
    if (this.#finalized || at === Infinity || at >= this.#timerAt) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(() => this.#onTimer(), Math.max(0, at - performance.now()));
  }

  #rearm(now: number): void {
    const next = Math.min(
      this.#sender.inflightCount > 0 ? this.#sender.scanTimeouts(now) ?? Infinity : Infinity,
      this.#negotiation.nextAt,
      this.#closeDeadline,
    );
    if (this.#sender.hasDue) this.#host.markReady(this);
    this.#arm(next);
  }

  #onTimer(): void {
    const now = performance.now();
    const lateMs = now - this.#timerAt;
    this.#timer = undefined;
    this.#timerAt = Infinity;
    if (this.#finalized) return;
    if (now >= this.#closeDeadline) {
      this.#closeDeadline = Infinity;
      if (this.#resetReason === undefined) {
        this.#options.log(
          `relay: ${this.label}: peer did not acknowledge everything within ${this.#options.closeTimeoutMs} ms of close`,
        );
        this.#resetReason = "closed";
      }
    }
    if (this.#negotiation.onTimer(now, lateMs) === "legacy") {
      this.#options.log(
        `relay: ${this.label}: peer never acknowledged; assuming a legacy executor (no retransmission)`,
      );
      this.#sender.dropInflight();
    }
    this.#rearm(now);
    if (this.hasWork()) this.#host.markReady(this);
  }
}
