/**
 * Relay protocol: protobuf `RelayMessageFrame`s (`proto/codex/exec_server/relay/v1/relay.proto`,
 * generated code in `gen/`, `deno task gen`) carrying many JSON-RPC sessions (streams) over
 * one link, with per-stream sequencing, acks, retransmission, segmentation and reassembly,
 * compatible with upstream legacy peers that do none of that.
 *
 * - Executor: {@linkcode ExecutorMux} turns each `stream_id` into a `MessageTransport`
 *   ({@linkcode RelayTransport}); `replaceLink` continues every reliable stream over a new
 *   websocket after a reconnect.
 * - Harness: {@linkcode openHarnessStream} (over any link) / {@linkcode connectHarnessStream}
 *   (websocket URL).
 * - Links: {@linkcode RelayLink} (a binary message pipe), {@linkcode websocketLink}.
 *
 * Protocol, per stream and direction:
 * - Negotiation: the harness sends `resume{next_seq:0}` (claims the stream) and a hello
 *   (`ack_frame` with no `ack`), repeated on a timer; our executor answers with an `ack_frame`
 *   and both switch to reliable mode. A stream whose first data frame comes without a hello
 *   (upstream legacy harness) is legacy; a harness whose hello is never answered within
 *   `negotiateTimeoutMs` (upstream legacy executor) goes legacy too. Legacy = one whole message
 *   per data frame, seq 0,1,2…, no acks sent, nothing retransmitted; inbound still
 *   de-duplicated and ordered by seq.
 * - Reliable mode: seq from 0 per segment; messages over {@linkcode SEGMENT_BYTES} (60 KiB)
 *   are split (`segment_index`/`segment_count`, `message_start_seq = seq - segment_index`).
 *   Every frame carries `ack` (highest contiguous seq received, absent before seq 0) and
 *   `ack_bits` (bit i = seq ack+1+i held out of order); a standalone `ack_frame` goes out when
 *   there is no data to carry it. Unacked segments are resent after an RTT-based timeout
 *   (RFC 6298 estimator, Karn's rule, per-segment exponential backoff). Window: 64 segments /
 *   4 MiB unacked per stream, never sliding past the oldest hole; `send()` waits while more
 *   than 2 MiB is queued. Receiver: reorder buffer of 128 segments / 8 MiB, reassembly bounded
 *   by `maxMessageBytes` (beyond: delivered as `OversizedMessage`), delivery queue 16 MiB
 *   (beyond: segments refused, then `resume{next_seq}` asks for them once the reader caught up).
 * - `resume{next_seq}` from a peer = "I have everything below next_seq, resend the rest now".
 *   `reset{reason}` ends one stream (`closed` after a graceful close, `relay_protocol_error`,
 *   `heartbeat_timeout`, `unknown_stream`, `too_many_streams`, `noise_not_supported`).
 * - Liveness: a reliable stream silent for `heartbeatIntervalMs` sends `heartbeat`, answered
 *   by an `ack_frame`; a link with no inbound frame for `deadAfterMs` is dropped (executor:
 *   `onLinkLost`, streams wait `detachedTtlMs` for `replaceLink`; harness: the stream ends).
 * - Fairness: the link writer takes one frame per ready stream in turn and stops while the
 *   link buffers more than `linkHighWaterBytes`.
 * - Bad input (undecodable bytes, text messages, wrong version, empty or >128-byte ids,
 *   bodyless frames) is dropped with a log line; a stream that breaks the rules (bad segment
 *   fields, acks for unsent seqs) is reset with a log line. Nothing else is affected.
 *
 * @example
 * ```ts
 * import { ExecutorMux, openHarnessStream, websocketLink } from "./mod.ts";
 * const mux = new ExecutorMux(websocketLink(new WebSocket("ws://127.0.0.1:9000/?role=environment")), {
 *   onStream(transport) { console.log("new stream", transport.id); },
 * });
 * const harness = openHarnessStream(websocketLink(new WebSocket("ws://127.0.0.1:9000/?role=harness")));
 * harness.close();
 * mux.close();
 * ```
 * @module
 */
export { RelayError, type RelayErrorCode } from "./errors.ts";
export {
  checkDataSegment,
  decodeFrame,
  encodeFrame,
  type RelayData,
  type RelayFrameInit,
  type RelayMessageFrame,
  RelayMessageFrameSchema,
  type SegmentLimits,
} from "./frame.ts";
export { type RelayLink, type RelayLinkHandlers, websocketLink } from "./link.ts";
export {
  MAX_RESET_REASON_BYTES,
  MAX_STREAM_ID_BYTES,
  RELAY_FRAME_VERSION,
  type RelayStreamOptions,
  type ResolvedRelayOptions,
  resolveRelayOptions,
  SEGMENT_BYTES,
} from "./limits.ts";
export {
  ExecutorMux,
  type ExecutorMuxOptions,
  type RelayTransport,
  type StreamMode,
  type StreamStats,
} from "./executor_mux.ts";
export {
  type ConnectHarnessOptions,
  connectHarnessStream,
  type HarnessStreamOptions,
  openHarnessStream,
} from "./harness_transport.ts";
