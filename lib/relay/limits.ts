/**
 * Wire limits and tuning defaults of the reliable relay stream.
 *
 * Sizes are chosen so one frame always fits the 256 KiB websocket limit that upstream Noise
 * endpoints enforce, and so one stream's in-flight data (window) is bounded.
 * @module
 */

/**
 * The only frame `version` on the wire.
 * @example
 * ```ts
 * import { RELAY_FRAME_VERSION } from "./limits.ts";
 * RELAY_FRAME_VERSION; // 1
 * ```
 */
export const RELAY_FRAME_VERSION = 1;

/**
 * Largest payload of one data segment (60 KiB = 61,440 bytes, like upstream's Noise record
 * plaintext). Messages longer than this are split into `segment_count` segments on reliable
 * streams; legacy peers always get whole messages.
 * @example
 * ```ts
 * import { SEGMENT_BYTES } from "./limits.ts";
 * Math.ceil(10 * 1024 * 1024 / SEGMENT_BYTES); // 171 segments for 10 MiB
 * ```
 */
export const SEGMENT_BYTES = 60 * 1024;

/**
 * `RelayAck.features` bit a peer sets on its negotiation `ack_frame`s (the harness's hellos,
 * the executor's answer) when it accepts packed data segments: a segment with
 * `segment_count` 1 whose payload starts with a zero byte holds several whole messages, each
 * as a big-endian u32 length and that many bytes (upstream's Noise inner framing, per
 * segment). A sender packs only for a peer that announced it; upstream peers never ack, so
 * they never see a packed segment.
 * @example
 * ```ts
 * import { FEATURE_PACKED } from "./limits.ts";
 * (1 & FEATURE_PACKED) !== 0; // true
 * ```
 */
export const FEATURE_PACKED = 1;

/**
 * Bytes in front of each message in a packed segment (its big-endian u32 length). Messages
 * longer than {@linkcode SEGMENT_BYTES} minus this go unpacked (segmented as before).
 * @example
 * ```ts
 * import { PACKED_LENGTH_BYTES, SEGMENT_BYTES } from "./limits.ts";
 * SEGMENT_BYTES - PACKED_LENGTH_BYTES; // 61436: the largest message a packed segment holds
 * ```
 */
export const PACKED_LENGTH_BYTES = 4;

/**
 * Longest accepted `stream_id` in UTF-8 bytes (the strict upstream rule).
 * @example
 * ```ts
 * import { MAX_STREAM_ID_BYTES } from "./limits.ts";
 * new TextEncoder().encode(crypto.randomUUID()).length <= MAX_STREAM_ID_BYTES; // true
 * ```
 */
export const MAX_STREAM_ID_BYTES = 128;

/**
 * Longest `reset.reason` we send or log (longer peer reasons are truncated in logs).
 * @example
 * ```ts
 * import { MAX_RESET_REASON_BYTES } from "./limits.ts";
 * MAX_RESET_REASON_BYTES; // 256
 * ```
 */
export const MAX_RESET_REASON_BYTES = 256;

/**
 * Tunables of one relay endpoint (all streams of a link share them). Defaults suit a
 * websocket to a rendezvous; tests shrink windows and timers.
 * @example
 * ```ts
 * import type { RelayStreamOptions } from "./limits.ts";
 * const lan: RelayStreamOptions = { minRtoMs: 20, heartbeatIntervalMs: 5000, deadAfterMs: 15000 };
 * ```
 */
export interface RelayStreamOptions {
  /** Most unacknowledged segments per stream and direction. Default 64. */
  windowSegments?: number;
  /** Most unacknowledged payload bytes per stream and direction. Default 4 MiB. */
  windowBytes?: number;
  /**
   * `send()` waits while more than this many bytes are queued but not yet sent on one
   * stream. Default 2 MiB.
   */
  sendBufferBytes?: number;
  /** Farthest ahead of the next expected seq a segment may arrive and still be kept. Default 128. */
  receiveWindowSegments?: number;
  /** Most out-of-order bytes kept per stream. Default 8 MiB. */
  receiveWindowBytes?: number;
  /**
   * Most bytes of complete messages waiting for the application per stream; above it a
   * reliable stream stops accepting segments (the peer retransmits later), a legacy stream is
   * reset. Default 16 MiB.
   */
  deliveryQueueBytes?: number;
  /** Largest reassembled message; larger ones are delivered as `OversizedMessage`. Default 64 MiB. */
  maxMessageBytes?: number;
  /** Retransmission timeout before any RTT sample. Default 250 ms. */
  initialRtoMs?: number;
  /** Lower bound of the adaptive retransmission timeout. Default 50 ms. */
  minRtoMs?: number;
  /** Upper bound of the adaptive retransmission timeout (after backoff). Default 4 s. */
  maxRtoMs?: number;
  /** A stream silent this long gets a heartbeat. Default 10 s. */
  heartbeatIntervalMs?: number;
  /** A link (or stream) silent this long despite heartbeats is dead. Default 30 s. */
  deadAfterMs?: number;
  /**
   * Harness only: how long to wait for the executor to show it acks before falling back to
   * the legacy one-message-per-frame mode. Default 3 s.
   */
  negotiateTimeoutMs?: number;
  /** Graceful `close()` waits at most this long for the peer to ack sent data. Default 5 s. */
  closeTimeoutMs?: number;
  /** The scheduler stops writing while the link buffers more than this. Default 1 MiB. */
  linkHighWaterBytes?: number;
  /**
   * Pack small messages into shared segments for a peer that accepts it (`FEATURE_PACKED`).
   * Default true; tests that count segments per message turn it off.
   */
  packMessages?: boolean;
  /** Receives one line per dropped frame or reset stream. Default: `console.error`. */
  log?: (line: string) => void;
}

/**
 * {@linkcode RelayStreamOptions} with every default filled in.
 * @example
 * ```ts
 * import { resolveRelayOptions, type ResolvedRelayOptions } from "./limits.ts";
 * const options: ResolvedRelayOptions = resolveRelayOptions();
 * options.windowBytes; // 4 MiB
 * ```
 */
export type ResolvedRelayOptions = Required<RelayStreamOptions>;

/**
 * Fills in the defaults of {@linkcode RelayStreamOptions}.
 *
 * @example
 * ```ts
 * import { resolveRelayOptions } from "./limits.ts";
 * resolveRelayOptions({ minRtoMs: 10 }).windowSegments; // 64
 * ```
 */
export function resolveRelayOptions(options: RelayStreamOptions = {}): ResolvedRelayOptions {
  return {
    windowSegments: options.windowSegments ?? 64,
    windowBytes: options.windowBytes ?? 4 * 1024 * 1024,
    sendBufferBytes: options.sendBufferBytes ?? 2 * 1024 * 1024,
    receiveWindowSegments: options.receiveWindowSegments ?? 128,
    receiveWindowBytes: options.receiveWindowBytes ?? 8 * 1024 * 1024,
    deliveryQueueBytes: options.deliveryQueueBytes ?? 16 * 1024 * 1024,
    maxMessageBytes: options.maxMessageBytes ?? 64 * 1024 * 1024,
    initialRtoMs: options.initialRtoMs ?? 250,
    minRtoMs: options.minRtoMs ?? 50,
    maxRtoMs: options.maxRtoMs ?? 4000,
    heartbeatIntervalMs: options.heartbeatIntervalMs ?? 10_000,
    deadAfterMs: options.deadAfterMs ?? 30_000,
    negotiateTimeoutMs: options.negotiateTimeoutMs ?? 3000,
    closeTimeoutMs: options.closeTimeoutMs ?? 5000,
    linkHighWaterBytes: options.linkHighWaterBytes ?? 1024 * 1024,
    packMessages: options.packMessages ?? true,
    log: options.log ?? defaultLog,
  };
}

function defaultLog(line: string): void {
  console.error(line);
}
