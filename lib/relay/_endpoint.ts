/**
 * One end of a relay link: decodes and validates inbound frames, routes them to streams by
 * `stream_id`, and writes the streams' frames with a round-robin scheduler paced on the link's
 * `bufferedAmount`, so a flooding stream gets one frame per turn like everyone else.
 * @module
 */
import { RelayError } from "./errors.ts";
import { decodeFrame, encodeFrame, type RelayMessageFrame } from "./frame.ts";
import type { RelayLink } from "./link.ts";
import type { ResolvedRelayOptions } from "./limits.ts";
import { RelayStream, type StreamHost, type StreamRole } from "./_stream.ts";
import { clearImmediate, setImmediate } from "node:timers";
import { reactorTurn } from "../util/bulk_priority.ts";

/** How many frames the scheduler writes before yielding to the event loop. */
const FRAMES_PER_TURN = 64;
/** How long to wait before looking at `bufferedAmount` again when the link is full. */
const DRAIN_POLL_MS = 2;
/** Closed stream ids remembered so late frames do not resurrect them. */
const RETIRED_IDS = 4096;
/** Endpoint-level frames (resets for unknown streams) queued at most. */
const MAX_CONTROL_FRAMES = 256;

/** Construction parameters of a {@linkcode RelayEndpoint}. */
export interface EndpointInit {
  role: StreamRole;
  options: ResolvedRelayOptions;
  /** Executor only: most concurrent streams; more are refused with `reset`. */
  maxStreams: number;
  /** Executor only: a new stream appeared. */
  onStream?: (stream: RelayStream) => void;
  /** The link died (closed, failed or silent past `deadAfterMs`). */
  onLinkLost?: (reason: string) => void;
  /**
   * How long reliable streams wait for `attach` of a new link after losing one; 0 ends every
   * stream with the link (harness side: one link, no relay-level reconnect).
   */
  detachedTtlMs: number;
}

/** Shared engine of the executor mux and the harness transport. */
export class RelayEndpoint implements StreamHost {
  readonly streams = new Map<string, RelayStream>();
  #link: RelayLink | undefined;
  #init: EndpointInit;
  #options: ResolvedRelayOptions;
  #ready = new Set<RelayStream>();
  #control: Uint8Array[] = [];
  #retired = new Set<string>();
  #writeTimer: ReturnType<typeof setTimeout> | undefined;
  #writeSoon: ReturnType<typeof setImmediate> | undefined;
  /** Set while writes wait for a full link to drain (`whenBelow`) or for a reactor turn. */
  #writeWait: Promise<void> | undefined;
  #tickTimer: ReturnType<typeof setTimeout> | undefined;
  #detachTimer: ReturnType<typeof setTimeout> | undefined;
  #lastInboundAt = 0;
  #tickIntervalMs: number;
  #lastTickAt = performance.now();
  #closed = false;

  constructor(init: EndpointInit) {
    this.#init = init;
    this.#options = init.options;
    const interval = Math.max(
      10,
      Math.min(this.#options.heartbeatIntervalMs, this.#options.deadAfterMs) / 2,
    );
    this.#tickIntervalMs = interval;
    this.#tickTimer = setInterval(() => this.#tick(), interval);
  }

  get attached(): boolean {
    return this.#link !== undefined;
  }

  get linkLabel(): string {
    return this.#link?.label ?? "no link";
  }

  /** Starts using `link` (initially, or after the previous one was lost). */
  attach(link: RelayLink): void {
    if (this.#closed) {
      link.close();
      return;
    }
    const previous = this.#link;
    this.#link = undefined;
    previous?.close();
    this.#link = link;
    this.#writeWait = undefined;
    this.#lastInboundAt = performance.now();
    if (this.#detachTimer !== undefined) clearTimeout(this.#detachTimer);
    this.#detachTimer = undefined;
    link.attach({
      onMessage: (data) => {
        if (this.#link === link) this.#onMessage(data);
      },
      onClose: (reason) => {
        if (this.#link === link) this.#linkGone(reason);
      },
    });
    if (previous !== undefined || this.streams.size > 0) {
      const now = performance.now();
      for (const stream of [...this.streams.values()]) {
        if (stream.mode === "reliable") stream.linkReplaced(now);
        else stream.linkLost("replaced by a new link");
      }
    }
    this.#kick();
  }

  /** Opens a stream from this side (harness). */
  open(id: string): RelayStream {
    const stream = new RelayStream(this, { id, role: this.#init.role, options: this.#options });
    this.streams.set(id, stream);
    this.markReady(stream);
    return stream;
  }

  /** Ends every stream, stops the timers and closes the link. */
  close(reason = "endpoint_closed"): void {
    if (this.#closed) return;
    for (const stream of [...this.streams.values()]) stream.reset(reason);
    // Give the resets one synchronous write pass; what cannot be written is dropped with the link.
    this.#write();
    this.#closed = true;
    for (const stream of [...this.streams.values()]) stream.abort(reason);
    if (this.#writeTimer !== undefined) clearTimeout(this.#writeTimer);
    this.#writeTimer = undefined;
    this.#writeWait = undefined;
    if (this.#writeSoon !== undefined) clearImmediate(this.#writeSoon);
    this.#writeSoon = undefined;
    if (this.#tickTimer !== undefined) clearInterval(this.#tickTimer);
    this.#tickTimer = undefined;
    if (this.#detachTimer !== undefined) clearTimeout(this.#detachTimer);
    this.#detachTimer = undefined;
    const link = this.#link;
    this.#link = undefined;
    link?.close();
  }

  // ---- StreamHost -------------------------------------------------------------------------

  markReady(stream: RelayStream): void {
    if (this.#closed) return;
    this.#ready.add(stream);
    this.#kick();
  }

  finalized(stream: RelayStream): void {
    this.#ready.delete(stream);
    if (this.streams.get(stream.id) === stream) {
      this.streams.delete(stream.id);
      this.#retire(stream.id);
    }
  }

  // ---- inbound ----------------------------------------------------------------------------

  #onMessage(data: Uint8Array | string): void {
    const now = performance.now();
    this.#lastInboundAt = now;
    if (typeof data === "string") {
      this.#options.log(
        `relay: ${this.linkLabel}: dropped a text message; the relay expects binary protobuf frames`,
      );
      return;
    }
    let frame: RelayMessageFrame;
    try {
      frame = decodeFrame(data);
    } catch (error) {
      if (!(error instanceof RelayError)) throw error;
      this.#options.log(`relay: ${this.linkLabel}: dropped a frame: ${error.message}`);
      return;
    }
    const stream = this.streams.get(frame.streamId);
    if (stream) {
      stream.onFrame(frame, now);
      return;
    }
    this.#unknownStream(frame, now);
  }

  #unknownStream(frame: RelayMessageFrame, now: number): void {
    const kind = frame.body.case;
    if (kind === "reset") return;
    if (this.#retired.has(frame.streamId) || this.#init.role === "harness") {
      // Tell a peer that still sends data that the stream is gone; everything else is stale.
      if (kind === "data") this.#sendControl(frame.streamId, "stream_closed");
      return;
    }
    if (kind === "handshake") {
      this.#options.log(
        `relay: ${this.linkLabel}: stream ${frame.streamId} asked for a Noise handshake; refusing (cleartext relay only)`,
      );
      this.#sendControl(frame.streamId, "noise_not_supported");
      return;
    }
    if (kind === "heartbeat" || kind === "resume") return;
    if (
      kind === "data" && frame.ack === undefined &&
      (frame.body.value.segmentCount !== 1 || frame.body.value.segmentIndex !== 0)
    ) {
      // A first frame without acks comes from a legacy peer, which never segments: malformed.
      // Dropped without a stream or a reset ("the executor never sends reset in legacy mode").
      this.#options.log(
        `relay: ${this.linkLabel}: dropped a malformed first data frame for stream ${frame.streamId} (segment ${frame.body.value.segmentIndex}/${frame.body.value.segmentCount} from a peer that never negotiated segmentation)`,
      );
      return;
    }
    // Only a fresh start creates a stream: a legacy harness's data seq 0, or our harness's
    // hello (`ack_frame` acknowledging nothing). Anything else comes from a stream this
    // executor does not know (e.g. it restarted): tell the peer instead of hanging it.
    const fresh = frame.ack === undefined &&
      (kind === "ackFrame" || (kind === "data" && frame.body.value.seq === 0));
    if (!fresh) {
      this.#options.log(
        `relay: ${this.linkLabel}: ${kind} frame for unknown stream ${frame.streamId}; resetting it`,
      );
      this.#sendControl(frame.streamId, "unknown_stream");
      return;
    }
    if (this.streams.size >= this.#init.maxStreams) {
      this.#options.log(
        `relay: ${this.linkLabel}: refusing stream ${frame.streamId}: ${this.#init.maxStreams} streams already open`,
      );
      this.#sendControl(frame.streamId, "too_many_streams");
      return;
    }
    const stream = new RelayStream(this, {
      id: frame.streamId,
      role: "executor",
      options: this.#options,
    });
    this.streams.set(stream.id, stream);
    this.#init.onStream?.(stream);
    stream.onFrame(frame, now);
  }

  #sendControl(streamId: string, reason: string): void {
    if (this.#control.length >= MAX_CONTROL_FRAMES) return;
    this.#control.push(encodeFrame({ streamId, body: { case: "reset", value: { reason } } }));
    this.#kick();
  }

  #retire(id: string): void {
    this.#retired.add(id);
    if (this.#retired.size > RETIRED_IDS) {
      const oldest = this.#retired.values().next().value;
      if (oldest !== undefined) this.#retired.delete(oldest);
    }
  }

  #linkGone(reason: string): void {
    this.#link = undefined;
    this.#control = [];
    this.#ready.clear();
    const ttl = this.#init.detachedTtlMs;
    for (const stream of [...this.streams.values()]) {
      if (ttl > 0) stream.linkLost(reason);
      else stream.abort(`link lost: ${reason}`);
    }
    if (ttl > 0 && this.streams.size > 0 && !this.#closed) {
      this.#detachTimer = setTimeout(() => {
        this.#detachTimer = undefined;
        if (this.#link) return;
        for (const stream of [...this.streams.values()]) {
          stream.abort(`link lost: ${reason}; no new link within ${ttl} ms`);
        }
      }, ttl);
    }
    this.#init.onLinkLost?.(reason);
  }

  // ---- outbound ---------------------------------------------------------------------------

  #kick(): void {
    if (
      this.#writeSoon !== undefined || this.#writeTimer !== undefined ||
      this.#writeWait !== undefined || this.#closed
    ) return;
    // A macrotask, so acks for frames that arrived together coalesce into one; setImmediate
    // because nested setTimeout(0) is clamped to milliseconds, which dominated round trips.
    this.#writeSoon = setImmediate(() => {
      this.#writeSoon = undefined;
      this.#write();
    });
  }

  #write(): void {
    const link = this.#link;
    if (!link || this.#closed) return;
    const now = performance.now();
    let written = 0;
    while (this.#control.length > 0 || this.#ready.size > 0) {
      if (link.bufferedAmount > this.#options.linkHighWaterBytes) {
        this.#waitForDrain(link);
        return;
      }
      if (written >= FRAMES_PER_TURN) {
        // A full turn of frames written: the next waits for the reactor, so reads are polled.
        this.#writeAfter(reactorTurn());
        return;
      }
      const control = this.#control.shift();
      if (control) {
        link.send(control);
        written++;
        continue;
      }
      const stream: RelayStream = this.#ready.values().next().value!;
      this.#ready.delete(stream);
      const frame = stream.pull(now);
      if (frame) {
        link.send(frame);
        written++;
        if (this.#link !== link) return;
      }
      // Back of the line: one frame per stream per round.
      if (stream.hasWork()) this.#ready.add(stream);
    }
  }

  /**
   * Writes again once the link is down to half its high-water mark: at once when the link
   * tells (`whenBelow`), else on a poll, which made a reply queued behind a flood wait for the
   * timer after the link had drained.
   */
  #waitForDrain(link: RelayLink): void {
    if (link.whenBelow) {
      this.#writeAfter(link.whenBelow(this.#options.linkHighWaterBytes / 2));
      return;
    }
    this.#writeTimer = setTimeout(() => {
      this.#writeTimer = undefined;
      this.#write();
    }, DRAIN_POLL_MS);
  }

  /** Writes once `wait` settles, unless the link was replaced or the endpoint closed since. */
  #writeAfter(wait: Promise<void>): void {
    this.#writeWait = wait;
    wait.then(() => {
      if (this.#writeWait !== wait) return;
      this.#writeWait = undefined;
      this.#write();
    });
  }

  // ---- liveness ---------------------------------------------------------------------------

  #tick(): void {
    if (this.#closed || !this.#link) return;
    const now = performance.now();
    this.#discountStall(now);
    // Streams first, with twice the link's patience: a silent stream whose link is otherwise
    // alive lost its peer; if everything is silent, the link check below fires first.
    for (const stream of [...this.streams.values()]) {
      if (stream.tick(now)) {
        stream.fail("heartbeat_timeout", `peer silent for ${2 * this.#options.deadAfterMs} ms`);
      }
    }
    let reliable = 0;
    for (const stream of this.streams.values()) if (stream.mode === "reliable") reliable++;
    if (reliable > 0 && now - this.#lastInboundAt >= this.#options.deadAfterMs) {
      const silentMs = Math.round(now - this.#lastInboundAt);
      this.#options.log(
        `relay: ${this.linkLabel}: nothing received for ${silentMs} ms despite heartbeats; dropping the link`,
      );
      const link = this.#link;
      this.#linkGone(`no traffic for ${silentMs} ms`);
      link.close();
    }
  }

  /**
   * A tick far later than its interval means this process did not run (load, a GC pause, a
   * suspended laptop): it could neither read the peer's frames (they wait in the socket) nor
   * send its own heartbeats, so that time is not the peer's silence. It is left out of every
   * silence clock; a dead link is still found, after `deadAfterMs` of ticks that ran on time
   * (each tick counts at most two intervals of silence).
   */
  #discountStall(now: number): void {
    const stalledMs = now - this.#lastTickAt - 2 * this.#tickIntervalMs;
    this.#lastTickAt = now;
    if (stalledMs <= 0) return;
    this.#lastInboundAt = Math.min(now, this.#lastInboundAt + stalledMs);
    for (const stream of this.streams.values()) {
      stream.lastInboundAt = Math.min(now, stream.lastInboundAt + stalledMs);
    }
  }
}
