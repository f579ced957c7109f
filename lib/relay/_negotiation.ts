/**
 * Mode negotiation of one relay stream: whether the peer acks (ours: segmentation,
 * retransmission, a window) or is an upstream peer that never does (legacy: one whole message
 * per data frame, no retransmission). A harness claims the stream with `resume{0}` and then
 * announces that it acks with `ack_frame`s on an exponential backoff; the first frame that
 * carries an ack settles `reliable`, a data frame without one settles `legacy`, and silence
 * until the deadline means a legacy executor. The deadline counts time this process could
 * listen: a timer that fires late (an event loop stalled by a big synchronous job or by
 * thousands of streams) extends it by the stall, because the peer's answer may be sitting
 * unread in the socket; without this a 3 s stall turned every fresh stream legacy.
 * @module
 */
import type { RelayMessageFrame } from "./frame.ts";
import type { ResolvedRelayOptions } from "./limits.ts";

/** Which end of the relay this stream lives on. */
export type StreamRole = "executor" | "harness";

/**
 * `pending`: the peer has not shown whether it acks; `reliable`: it acks (segmentation,
 * retransmission, window); `legacy`: an upstream peer (whole messages, no retransmission).
 */
export type StreamMode = "pending" | "reliable" | "legacy";

/** The negotiation frame a pending stream owes its peer. */
export type NegotiationStep = "resume" | "hello";

/** A timer this much later than due means the event loop stalled (not just timer jitter). */
const STALL_TOLERANCE_MS = 50;
/** Stalls extend the deadline by at most this many negotiate timeouts in total. */
const MAX_STALL_EXTENSIONS = 4;

/**
 * Negotiation state of one stream. The stream asks it which frame to send while `pending` and
 * when its timer must fire; the executor side only listens, so it owes nothing and never times
 * out.
 *
 * @example
 * ```ts ignore
 * const negotiation = new Negotiation("harness", options, performance.now());
 * negotiation.take(performance.now()); // "resume": claim the stream
 * negotiation.take(performance.now()); // "hello": an ack_frame, then again after a backoff
 * ```
 */
export class Negotiation {
  #mode: StreamMode = "pending";
  #options: Pick<ResolvedRelayOptions, "initialRtoMs" | "maxRtoMs">;
  // Harness side: `resume` claims the stream, an `ack_frame` announces we ack.
  #openPending = false;
  #helloDue = false;
  #helloAttempts = 0;
  #helloNextAt = Infinity;
  #deadline = Infinity;
  // Stall time already added to the deadline; bounded so a legacy peer is still detected.
  #extendedMs = 0;
  #maxExtensionMs = 0;

  constructor(
    role: StreamRole,
    options: Pick<ResolvedRelayOptions, "initialRtoMs" | "maxRtoMs" | "negotiateTimeoutMs">,
    now: number,
  ) {
    this.#options = options;
    if (role === "harness") {
      this.#openPending = true;
      this.#helloDue = true;
      this.#deadline = now + options.negotiateTimeoutMs;
      this.#maxExtensionMs = MAX_STALL_EXTENSIONS * options.negotiateTimeoutMs;
    }
  }

  /** The negotiated mode (`pending` until the peer has shown it). */
  get mode(): StreamMode {
    return this.#mode;
  }

  /** When the stream's timer must fire next for the negotiation (`Infinity`: never). */
  get nextAt(): number {
    return Math.min(this.#helloNextAt, this.#deadline);
  }

  /** Whether a negotiation frame is owed now. */
  get due(): boolean {
    return this.#openPending || this.#helloDue;
  }

  /**
   * What one inbound frame shows about the peer: an ack (or an `ack_frame`) means it acks; a
   * data frame without one means it never will.
   * @returns the mode it switched to, or `undefined` when nothing changed
   */
  observe(frame: RelayMessageFrame): StreamMode | undefined {
    if (this.#mode !== "pending") return undefined;
    if (frame.ack !== undefined || frame.body.case === "ackFrame") return this.#settle("reliable");
    if (frame.body.case === "data") return this.#settle("legacy");
    return undefined;
  }

  /**
   * The negotiation frame to send now, if one is owed; a hello schedules the next one on an
   * exponential backoff (see {@link Negotiation.nextAt}).
   */
  take(now: number): NegotiationStep | undefined {
    if (this.#openPending) {
      this.#openPending = false;
      return "resume";
    }
    if (!this.#helloDue) return undefined;
    this.#helloDue = false;
    this.#helloAttempts++;
    const backoff = Math.min(
      this.#options.maxRtoMs,
      this.#options.initialRtoMs * 2 ** (this.#helloAttempts - 1),
    );
    this.#helloNextAt = now + backoff;
    return "hello";
  }

  /**
   * The stream's timer fired (`lateMs` after it was due): a hello falls due again, or the
   * deadline passed without an ack and the peer is taken for a legacy executor. A late timer
   * first pushes the deadline out by its lateness (see the module doc), so inbound frames
   * queued during the stall are read before the mode is settled.
   * @returns `"legacy"` when the deadline settled the mode
   */
  onTimer(now: number, lateMs = 0): StreamMode | undefined {
    if (this.#mode !== "pending") return undefined;
    if (now >= this.#deadline && lateMs > STALL_TOLERANCE_MS) {
      const extension = Math.min(lateMs, this.#maxExtensionMs - this.#extendedMs);
      if (extension > 0) {
        this.#extendedMs += extension;
        this.#deadline = now + extension;
      }
    }
    if (now >= this.#deadline) return this.#settle("legacy");
    if (now >= this.#helloNextAt) {
      this.#helloDue = true;
      this.#helloNextAt = Infinity;
    }
    return undefined;
  }

  #settle(mode: "reliable" | "legacy"): StreamMode {
    this.#mode = mode;
    this.#helloDue = false;
    this.#helloNextAt = Infinity;
    this.#deadline = Infinity;
    return mode;
  }
}
