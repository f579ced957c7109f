/**
 * `http/request` (spec §3.4): HTTP requests executed from the server's host, buffered or streamed
 * back as `http/request/bodyDelta` notifications.
 *
 * @example
 * ```ts
 * import { httpHandlers } from "./mod.ts";
 * const spec = httpHandlers.request;
 * ```
 * @module
 */
export { ACTIVE_STREAMS_RESOURCE, httpHandlers, MAX_BODY_DELTA_BYTES } from "./methods.ts";
export { ActiveStreams } from "./active_streams.ts";
export { type PreparedRequest, prepareRequest } from "./prepare.ts";
export {
  describeHttpError,
  HttpSendError,
  MAX_REDIRECTS,
  type PerformedResponse,
  type PerformOptions,
  performRequest,
} from "./request.ts";
export {
  isLoopback,
  sendOnce,
  type SendOptions,
  type WireRequest,
  type WireResponse,
} from "./send.ts";
