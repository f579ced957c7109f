/**
 * Relay protocol: protobuf `RelayMessageFrame`s carrying many JSON-RPC sessions (streams) over
 * one link, with per-stream sequencing, acks, retransmission, segmentation and reassembly,
 * compatible with upstream legacy peers that do none of that.
 *
 * - Executor: {@linkcode ExecutorMux} turns each `stream_id` into a `MessageTransport`.
 * - Harness: {@linkcode openHarnessStream} / {@linkcode connectHarnessStream}.
 * - Links: {@linkcode RelayLink}, {@linkcode websocketLink}.
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
