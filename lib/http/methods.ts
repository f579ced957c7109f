/**
 * The `http/request` JSON-RPC method (family `http`) and its `http/request/bodyDelta`
 * notifications.
 * @module
 */
import { internalError, RpcError } from "../jsonrpc/errors.ts";
import { MAX_MESSAGE_BYTES } from "../transport/types.ts";
import { encodeBase64 } from "../util/base64.ts";
import { concatBytes } from "../util/bytes.ts";
import { defineMethod, type MethodContext } from "../method/method.ts";
import { ActiveStreams } from "./active_streams.ts";
import { prepareRequest } from "./prepare.ts";
import {
  describeHttpError,
  HttpSendError,
  type PerformedResponse,
  performRequest,
} from "./request.ts";
import {
  BODY_DELTA_METHOD,
  type BodyDelta,
  httpRequestParams,
  type HttpRequestResult,
} from "../protocol/http.ts";

/**
 * Largest decoded payload of one `http/request/bodyDelta`.
 *
 * @example
 * ```ts
 * const body = new Uint8Array(1 << 20);
 * const pieces = Math.ceil(body.length / MAX_BODY_DELTA_BYTES); // deltas needed
 * ```
 */
export const MAX_BODY_DELTA_BYTES = 1024 * 1024;
/**
 * Key of the per-connection {@linkcode ActiveStreams}.
 *
 * @example
 * ```ts
 * import type { MethodContext } from "../method/method.ts";
 * import { ActiveStreams } from "./active_streams.ts";
 * declare const ctx: MethodContext;
 * const streams = ctx.connection.resource(ACTIVE_STREAMS_RESOURCE, () => new ActiveStreams());
 * ```
 */
export const ACTIVE_STREAMS_RESOURCE = "http.streams";
/**
 * `http/request` for the server's method table.
 *
 * @example
 * ```ts
 * const spec = httpHandlers.request;
 * ```
 */
export const httpHandlers = {
  request: defineMethod({
    family: "http",
    params: httpRequestParams,
    async handle(params, context): Promise<HttpRequestResult> {
      const request = prepareRequest(params);
      if (!params.streamResponse) {
        const response = await send(request, context.connection.signal);
        try {
          const body = await readBody(response);
          return { ...head(response), bodyBase64: encodeBase64(body) };
        } finally {
          response.finish();
        }
      }
      const streams = context.connection.resource(
        ACTIVE_STREAMS_RESOURCE,
        () => new ActiveStreams(),
      );
      const reservation = streams.reserve(params.requestId);
      let response: PerformedResponse;
      try {
        response = await send(
          request,
          AbortSignal.any([reservation.signal, context.connection.signal]),
        );
      } catch (err) {
        reservation.release();
        throw err;
      }
      context.afterResponse(async () => {
        try {
          await pumpBody(params.requestId, response, context);
        } finally {
          response.finish();
          reservation.release();
        }
      });
      return { ...head(response), bodyBase64: "" };
    },
  }),
};

async function send(
  request: ReturnType<typeof prepareRequest>,
  signal: AbortSignal,
): Promise<PerformedResponse> {
  try {
    return await performRequest(request, { signal });
  } catch (err) {
    throw internalError(`http/request failed: ${describeHttpError(err)}`);
  }
}

function head(response: PerformedResponse): Omit<HttpRequestResult, "bodyBase64"> {
  return {
    status: response.status,
    headers: response.headers.map(([name, value]) => ({ name, value })),
  };
}

/**
 * Largest body `http/request` answers in one (non-streamed) result: its base64 in a JSON-RPC
 * message must fit the 64 MiB transport limit. Bigger bodies need `streamResponse: true`.
 *
 * @example
 * ```ts
 * console.log(`bodies up to ${HTTP_BODY_LIMIT} bytes fit one result`);
 * ```
 */
export const HTTP_BODY_LIMIT = Math.floor((MAX_MESSAGE_BYTES - 1024 * 1024) / 4) * 3;

async function readBody(response: PerformedResponse): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for await (const chunk of response.body) {
      chunks.push(chunk);
      total += chunk.length;
      // Stop reading at once (leaving the loop cancels the body): holding the rest, or a
      // 270 MiB string of base64, is what would take the server down.
      if (total > HTTP_BODY_LIMIT) {
        throw internalError(
          `http/request response body is larger than ${HTTP_BODY_LIMIT} bytes, the most one ` +
            `result can carry; send the request with streamResponse: true`,
        );
      }
    }
  } catch (err) {
    if (err instanceof RpcError) throw err;
    throw internalError(
      `failed to read http/request response body: ${describeHttpError(abortReason(response, err))}`,
    );
  }
  return concatBytes(chunks, total);
}

/** Streams the body as deltas of at most 1 MiB, seq from 1, then a terminal frame. */
async function pumpBody(
  requestId: string,
  response: PerformedResponse,
  context: MethodContext,
): Promise<void> {
  let seq = 0;
  const delta = (bytes: Uint8Array, done: boolean, error: string | null) =>
    context.connection.notify(
      BODY_DELTA_METHOD,
      {
        requestId,
        seq: ++seq,
        deltaBase64: encodeBase64(bytes),
        done,
        error,
      } satisfies BodyDelta,
    );
  const reader = response.body.getReader();
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      if (context.connection.signal.aborted) return;
      for (let start = 0; start < value.length; start += MAX_BODY_DELTA_BYTES) {
        await delta(value.subarray(start, start + MAX_BODY_DELTA_BYTES), false, null);
      }
    }
    await delta(new Uint8Array(0), true, null);
  } catch (err) {
    // Nobody is left to tell when the connection is gone.
    if (context.connection.signal.aborted) return;
    const message = `failed to read http/request response body: ${
      describeHttpError(abortReason(response, err))
    }`;
    await delta(new Uint8Array(0), true, message);
  } finally {
    await reader.cancel().catch(() => {});
  }
}

function abortReason(response: PerformedResponse, err: unknown): unknown {
  return response.signal.aborted && response.signal.reason instanceof HttpSendError
    ? response.signal.reason
    : err;
}
