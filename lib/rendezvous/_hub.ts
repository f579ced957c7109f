/**
 * Routing for one executor id: its (single) executor socket, its harness sockets, and which
 * harness socket owns each `stream_id`. Frames are forwarded byte for byte; the only frames
 * the rendezvous writes itself are `reset`s telling the executor a harness went away.
 * @module
 */
import { encodeFrame } from "../relay/mod.ts";
import { EXECUTOR_REPLACED_REASON } from "../relay/executor_replaced.ts";
import { KEEPALIVE_FRAME } from "../relay/keepalive.ts";
import {
  addQueueDepth,
  NOT_DRAINING_CLOSE_CODE,
  PacedSocket,
  type QueueDepths,
} from "./_paced_socket.ts";
import { peekFrame } from "./_frame_peek.ts";

/** Tunables shared by every hub of a rendezvous. */
export interface HubOptions {
  /** How long harness sockets stay open while the executor is disconnected. */
  graceMs: number;
  /** Per-connection queue bound (bytes not yet handed to the socket). */
  maxQueuedBytes: number;
  /**
   * How long a harness may hold its executor's socket paused without draining before it is
   * closed as not reading (every other stream of that executor waits meanwhile).
   */
  stallMs: number;
  /** Start queueing when a socket buffers more than this. */
  highWaterBytes: number;
  /** Most streams one harness socket may claim. */
  maxStreamsPerHarness: number;
  /** Interval of keepalive frames to the executor (lets an idle executor detect a dead link). */
  keepaliveMs: number;
  /** Drops and overflows. */
  log: (line: string) => void;
  /** Executors coming and going. */
  info: (line: string) => void;
  debug: (line: string) => void;
}

/** Why the hub dropped a frame (`rendezvous_frames_dropped_total{reason}`). */
export const DROP_REASONS = [
  "text_message",
  "malformed_frame",
  "replaced_connection",
  "unknown_stream",
  "foreign_stream",
  "unopened_stream_reset",
  "stream_limit",
  "executor_offline",
  "queue_full",
  "closed_socket",
  "oversize_message",
] as const;
/** One of {@linkcode DROP_REASONS}. */
export type DropReason = typeof DROP_REASONS[number];

/** Counters of one hub (and, summed, of the rendezvous). */
export interface RoutingStats {
  framesToExecutor: number;
  framesToHarness: number;
  bytesRouted: number;
  dropped: number;
  resetsInjected: number;
}

/**
 * Reason carried by the `reset` the executor gets when a harness socket closes.
 * @example
 * ```ts
 * import { HARNESS_GONE_REASON } from "./_hub.ts";
 * HARNESS_GONE_REASON; // "harness_disconnected"
 * ```
 */
export const HARNESS_GONE_REASON = "harness_disconnected";
/**
 * Reason of the `reset` the executor gets for a stream no harness owns.
 * @example
 * ```ts
 * import { ORPHAN_STREAM_REASON } from "./_hub.ts";
 * ORPHAN_STREAM_REASON; // "no_harness"
 * ```
 */
export const ORPHAN_STREAM_REASON = "no_harness";
/** Resets remembered for streams whose harness left while the executor was offline. */
const MAX_PENDING_RESETS = 4096;
/** Drop log lines per peer before only every 1000th is written. */
const DROP_LOG_BURST = 20;
/** npm `ws` sockets stop reading (TCP backpressure) while paused; other sockets cannot. */
function setReading(socket: WebSocket, reading: boolean): void {
  const ws = socket as unknown as { pause?: () => void; resume?: () => void };
  if (reading) ws.resume?.();
  else ws.pause?.();
}

class Peer {
  readonly paced: PacedSocket;
  readonly streams = new Set<string>();
  drops = 0;
  constructor(
    readonly socket: WebSocket,
    readonly label: string,
    options: HubOptions & {
      onGone: () => void;
      onOversize: () => void;
      onRelieved: () => void;
      overflow: "close" | "drop";
    },
  ) {
    this.paced = new PacedSocket(socket, {
      label,
      highWaterBytes: options.highWaterBytes,
      maxQueuedBytes: options.maxQueuedBytes,
      overflow: options.overflow,
      log: options.log,
      onOverflow: options.onGone,
      onRelieved: options.onRelieved,
    });
    // The listener closes a socket whose message passes its size bound (1009) before the
    // message reaches the hub; its error event is the one place that says so.
    socket.addEventListener("error", (event) => {
      const error = (event as ErrorEvent).error as { code?: string } | undefined;
      if (error?.code === "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH") options.onOversize();
    });
    socket.addEventListener("close", options.onGone);
  }
}

/** The routing state of one executor id. */
export class ExecutorHub {
  readonly executorId: string;
  readonly stats: RoutingStats = {
    framesToExecutor: 0,
    framesToHarness: 0,
    bytesRouted: 0,
    dropped: 0,
    resetsInjected: 0,
  };
  /** Dropped frames by reason (their sum is `stats.dropped`). */
  readonly drops: Partial<Record<DropReason, number>> = {};
  #options: HubOptions;
  #executor: Peer | undefined;
  #harnesses = new Set<Peer>();
  #owners = new Map<string, Peer>();
  #pendingResets = new Set<string>();
  /** Streams reset by {@linkcode ExecutorHub.#resetOrphan} (bounded; once per stream). */
  #orphansReset = new Set<string>();
  #graceTimer: ReturnType<typeof setTimeout> | undefined;
  /** Set while the executor's socket is paused because a harness is behind. */
  #stallTimer: ReturnType<typeof setTimeout> | undefined;
  /** Harness sockets paused because the executor is behind. */
  #pausedHarnesses = new Set<Peer>();
  #keepaliveTimer: ReturnType<typeof setInterval> | undefined;

  constructor(executorId: string, options: HubOptions) {
    this.executorId = executorId;
    this.#options = options;
  }

  /** Whether an executor socket is connected. */
  get online(): boolean {
    return this.#executor !== undefined;
  }

  /** Open harness sockets. */
  get harnessCount(): number {
    return this.#harnesses.size;
  }

  /** Streams with a known owner. */
  get streamCount(): number {
    return this.#owners.size;
  }

  /** Takes an upgraded executor socket (call once it is open); replaces an older one. */
  attachExecutor(socket: WebSocket, label: string): void {
    const peer: Peer = new Peer(socket, label, {
      ...this.#options,
      overflow: "drop",
      onGone: () => this.#executorGone(peer),
      onOversize: () => this.#count("oversize_message"),
      onRelieved: () => this.#resumeHarnesses(),
    });
    const previous = this.#executor;
    this.#executor = peer;
    if (this.#graceTimer !== undefined) clearTimeout(this.#graceTimer);
    this.#graceTimer = undefined;
    if (previous) {
      this.#options.info(
        `rendezvous: executor ${this.executorId}: ${label} replaces ${previous.label}`,
      );
      previous.paced.close(1000, EXECUTOR_REPLACED_REASON);
    } else {
      this.#options.info(`rendezvous: executor ${this.executorId} connected (${label})`);
    }
    for (const streamId of this.#pendingResets) this.#injectReset(peer, streamId);
    this.#pendingResets.clear();
    socket.addEventListener("message", (event) => this.#fromExecutor(peer, event.data));
    if (this.#keepaliveTimer !== undefined) clearInterval(this.#keepaliveTimer);
    this.#keepaliveTimer = setInterval(() => {
      if (this.#executor === peer) peer.paced.send(KEEPALIVE_FRAME);
    }, this.#options.keepaliveMs);
  }

  #executorGone(peer: Peer): void {
    if (this.#executor !== peer) return;
    this.#executor = undefined;
    this.#clearStall();
    this.#resumeHarnesses();
    clearInterval(this.#keepaliveTimer);
    this.#keepaliveTimer = undefined;
    this.#options.info(
      `rendezvous: executor ${this.executorId} disconnected; keeping ${this.#harnesses.size} harness socket(s) open for ${this.#options.graceMs} ms`,
    );
    this.#graceTimer = setTimeout(() => this.#graceExpired(), this.#options.graceMs);
  }

  /** Takes an upgraded harness socket (call once it is open). */
  attachHarness(socket: WebSocket, label: string): void {
    const peer: Peer = new Peer(socket, label, {
      ...this.#options,
      overflow: "close",
      onGone: () => this.#harnessClosed(peer),
      onOversize: () => this.#count("oversize_message"),
      onRelieved: () => this.#maybeResumeExecutor(),
    });
    this.#harnesses.add(peer);
    this.#options.debug(`rendezvous: executor ${this.executorId}: harness ${label} connected`);
    socket.addEventListener("message", (event) => this.#fromHarness(peer, event.data));
  }

  /** Closes every socket of this hub. */
  close(code: number, reason: string): void {
    this.#clearStall();
    if (this.#graceTimer !== undefined) clearTimeout(this.#graceTimer);
    this.#graceTimer = undefined;
    clearInterval(this.#keepaliveTimer);
    this.#keepaliveTimer = undefined;
    for (const peer of this.#harnesses) peer.paced.close(code, reason);
    this.#executor?.paced.close(code, reason);
  }

  /** Adds this hub's socket queues to `depths`. */
  addQueueDepths(depths: QueueDepths): void {
    if (this.#executor) addQueueDepth(depths, this.#executor.paced);
    for (const peer of this.#harnesses) addQueueDepth(depths, peer.paced);
  }

  #count(reason: DropReason): void {
    this.stats.dropped++;
    this.drops[reason] = (this.drops[reason] ?? 0) + 1;
  }

  #drop(peer: Peer, reason: DropReason, why: string): void {
    this.#count(reason);
    peer.drops++;
    if (peer.drops <= DROP_LOG_BURST || peer.drops % 1000 === 0) {
      this.#options.log(
        `rendezvous: executor ${this.executorId}: dropped a frame from ${peer.label}: ${why}` +
          (peer.drops === DROP_LOG_BURST ? " (further drops from this peer: every 1000th)" : ""),
      );
    }
  }

  /** The binary payload of a message, or undefined (dropped with a log line) for text. */
  #frameBytes(peer: Peer, data: unknown): Uint8Array | undefined {
    if (typeof data !== "string") return new Uint8Array(data as ArrayBuffer);
    this.#drop(peer, "text_message", "text message (frames are binary)");
    return undefined;
  }

  /** The routing header of a frame, or undefined (dropped with a log line) if it has none. */
  #peekRoutable(peer: Peer, bytes: Uint8Array): ReturnType<typeof peekFrame> | undefined {
    const frame = peekFrame(bytes);
    if (frame && frame.version === 1 && frame.streamId !== "") return frame;
    this.#drop(peer, "malformed_frame", "not a canonical version-1 relay frame with a stream_id");
    return undefined;
  }

  #fromExecutor(peer: Peer, data: unknown): void {
    if (this.#executor !== peer) {
      return this.#drop(peer, "replaced_connection", "connection was replaced");
    }
    const bytes = this.#frameBytes(peer, data);
    const frame = bytes && this.#peekRoutable(peer, bytes);
    if (!bytes || !frame) return;
    const owner = this.#owners.get(frame.streamId);
    if (!owner) {
      this.#resetOrphan(peer, frame.streamId, frame.kind);
      return this.#drop(peer, "unknown_stream", `unknown stream ${frame.streamId.slice(0, 128)}`);
    }
    if (frame.kind === "reset") this.#forget(frame.streamId, owner);
    const wasOpen = owner.paced.open;
    if (owner.paced.send(bytes)) {
      this.stats.framesToHarness++;
      this.stats.bytesRouted += bytes.length;
      if (owner.paced.pressured) this.#pauseExecutor(peer);
    } else this.#count(wasOpen ? "queue_full" : "closed_socket");
  }

  /**
   * A harness is behind: stop reading the executor (its frames wait in TCP, not here), until
   * every harness has caught up or the one behind is closed after `stallMs`.
   */
  #pauseExecutor(executor: Peer): void {
    if (this.#stallTimer !== undefined) return;
    setReading(executor.socket, false);
    this.#armStall(new Map());
  }

  /**
   * Every `stallMs` while the executor is paused: a harness still behind whose queue did not
   * shrink since the last look (`seen`) is closed; one that drains, however slowly, stays.
   */
  #armStall(seen: Map<Peer, number>): void {
    this.#stallTimer = setTimeout(() => {
      const now = new Map<Peer, number>();
      for (const harness of this.#harnesses) {
        if (!harness.paced.pressured) continue;
        const queued = harness.paced.queuedBytes;
        const before = seen.get(harness);
        if (before === undefined || queued < before) {
          now.set(harness, queued);
          continue;
        }
        this.#options.log(
          `rendezvous: executor ${this.executorId}: harness ${harness.label} did not drain for ${this.#options.stallMs} ms; closing it`,
        );
        harness.paced.close(NOT_DRAINING_CLOSE_CODE, "peer not draining");
        this.#harnessClosed(harness);
      }
      if (now.size > 0) this.#armStall(now);
      else this.#maybeResumeExecutor();
    }, this.#options.stallMs);
  }

  #maybeResumeExecutor(): void {
    if (this.#stallTimer === undefined) return;
    for (const harness of this.#harnesses) if (harness.paced.pressured) return;
    this.#clearStall();
    if (this.#executor) setReading(this.#executor.socket, true);
  }

  #clearStall(): void {
    if (this.#stallTimer !== undefined) clearTimeout(this.#stallTimer);
    this.#stallTimer = undefined;
  }

  /** The executor caught up (or left): harnesses paused for it read again. */
  #resumeHarnesses(): void {
    for (const harness of this.#pausedHarnesses) setReading(harness.socket, true);
    this.#pausedHarnesses.clear();
  }

  #fromHarness(peer: Peer, data: unknown): void {
    if (!this.#harnesses.has(peer)) return;
    const bytes = this.#frameBytes(peer, data);
    const frame = bytes && this.#peekRoutable(peer, bytes);
    if (!bytes || !frame) return;
    const owner = this.#owners.get(frame.streamId);
    if (owner === undefined) {
      if (frame.kind === "reset") {
        return this.#drop(peer, "unopened_stream_reset", "reset for a stream it never opened");
      }
      if (peer.streams.size >= this.#options.maxStreamsPerHarness) {
        return this.#drop(
          peer,
          "stream_limit",
          `more than ${this.#options.maxStreamsPerHarness} streams`,
        );
      }
      this.#owners.set(frame.streamId, peer);
      this.#orphansReset.delete(frame.streamId);
      peer.streams.add(frame.streamId);
    } else if (owner !== peer) {
      return this.#drop(
        peer,
        "foreign_stream",
        `stream ${frame.streamId.slice(0, 128)} belongs to another harness`,
      );
    }
    if (frame.kind === "reset") this.#forget(frame.streamId, peer);
    const executor = this.#executor;
    // While the executor reconnects, frames are dropped: relay streams resend after resume.
    if (!executor) return this.#drop(peer, "executor_offline", "executor offline (reconnecting)");
    const wasOpen = executor.paced.open;
    if (executor.paced.send(bytes)) {
      this.stats.framesToExecutor++;
      this.stats.bytesRouted += bytes.length;
      if (executor.paced.pressured && !this.#pausedHarnesses.has(peer)) {
        this.#pausedHarnesses.add(peer);
        setReading(peer.socket, false);
      }
    } else this.#count(wasOpen ? "queue_full" : "closed_socket");
  }

  /**
   * The executor writes on a stream no harness here owns: its harness left with a rendezvous
   * (node) that died, or while the executor was away. Reset it once, so the stream ends now
   * and its JSON-RPC session can be resumed through a new stream, instead of both waiting out
   * the relay's dead-peer timeout.
   */
  #resetOrphan(executor: Peer, streamId: string, kind: string | undefined): void {
    if (kind === "reset" || this.#orphansReset.has(streamId)) return;
    if (this.#orphansReset.size >= MAX_PENDING_RESETS) this.#orphansReset.clear();
    this.#orphansReset.add(streamId);
    const frame = encodeFrame({
      streamId,
      body: { case: "reset", value: { reason: ORPHAN_STREAM_REASON } },
    });
    if (executor.paced.send(frame)) this.stats.resetsInjected++;
  }

  #forget(streamId: string, owner: Peer): void {
    this.#owners.delete(streamId);
    owner.streams.delete(streamId);
  }

  #harnessClosed(peer: Peer): void {
    if (!this.#harnesses.delete(peer)) return;
    this.#pausedHarnesses.delete(peer);
    this.#maybeResumeExecutor();
    this.#options.debug(
      `rendezvous: executor ${this.executorId}: harness ${peer.label} closed (${peer.streams.size} stream(s))`,
    );
    for (const streamId of peer.streams) {
      this.#owners.delete(streamId);
      if (this.#executor) this.#injectReset(this.#executor, streamId);
      else if (this.#pendingResets.size < MAX_PENDING_RESETS) this.#pendingResets.add(streamId);
    }
    peer.streams.clear();
  }

  #injectReset(executor: Peer, streamId: string): void {
    const frame = encodeFrame({
      streamId,
      body: { case: "reset", value: { reason: HARNESS_GONE_REASON } },
    });
    if (executor.paced.send(frame)) this.stats.resetsInjected++;
  }

  #graceExpired(): void {
    this.#graceTimer = undefined;
    if (this.#executor) return;
    this.#options.info(
      `rendezvous: executor ${this.executorId} did not come back within ${this.#options.graceMs} ms; closing ${this.#harnesses.size} harness socket(s)`,
    );
    // Their streams get `reset`s (queued in #pendingResets) if the executor returns later.
    for (const peer of [...this.#harnesses]) peer.paced.close(1011, "executor offline");
  }
}
