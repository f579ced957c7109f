/**
 * Harness side of the relay: one stream over one link to the rendezvous, as a
 * `MessageTransport` for the client library.
 * @module
 */
import { openWebSocket } from "../transport/open_websocket.ts";
import { RelayError } from "./errors.ts";
import type { RelayTransport } from "./executor_mux.ts";
import { type RelayLink, websocketLink } from "./link.ts";
import { type RelayStreamOptions, resolveRelayOptions } from "./limits.ts";
import { RelayEndpoint } from "./_endpoint.ts";

/**
 * Options of {@linkcode openHarnessStream}.
 * @example
 * ```ts
 * import type { HarnessStreamOptions } from "./harness_transport.ts";
 * const options: HarnessStreamOptions = { streamId: crypto.randomUUID(), negotiateTimeoutMs: 1000 };
 * ```
 */
export interface HarnessStreamOptions extends RelayStreamOptions {
  /** The `stream_id`; default a fresh lowercase UUIDv4, as upstream. */
  streamId?: string;
}

/**
 * Opens a stream over `link`: sends `resume{next_seq:0}` (claims the stream at the
 * rendezvous) and an `ack_frame` (announces that we ack), then waits for the executor's ack
 * before sending data (up to `negotiateTimeoutMs`, after which it assumes an upstream legacy
 * executor). Closing the stream closes the link; losing the link ends the stream.
 *
 * @example
 * ```ts
 * import { openHarnessStream, websocketLink } from "./mod.ts";
 * const socket = new WebSocket("ws://127.0.0.1:9000/relay?role=harness");
 * const transport = openHarnessStream(websocketLink(socket));
 * await transport.send(JSON.stringify({ id: 1, method: "initialize", params: { clientName: "x" } }));
 * transport.close();
 * ```
 */
export function openHarnessStream(
  link: RelayLink,
  options: HarnessStreamOptions = {},
): RelayTransport {
  const endpoint = new RelayEndpoint({
    role: "harness",
    options: resolveRelayOptions(options),
    maxStreams: 1,
    detachedTtlMs: 0,
  });
  endpoint.attach(link);
  const stream = endpoint.open(options.streamId ?? crypto.randomUUID());
  stream.closed.then(() => endpoint.close());
  return stream;
}

/**
 * Options of {@linkcode connectHarnessStream}.
 * @example
 * ```ts
 * import type { ConnectHarnessOptions } from "./harness_transport.ts";
 * const options: ConnectHarnessOptions = { headers: { authorization: "Bearer t" }, connectTimeoutMs: 5000 };
 * ```
 */
export interface ConnectHarnessOptions extends HarnessStreamOptions {
  /** Extra upgrade headers (e.g. `authorization`). */
  headers?: HeadersInit;
  /** Gives up connecting after this long. Default 10 s (upstream's harness connect timeout). */
  connectTimeoutMs?: number;
}

/**
 * Connects a websocket to a rendezvous harness URL and opens one relay stream over it.
 *
 * @throws {RelayError} code `connect_failed` when the socket does not open in time.
 * @example
 * ```ts
 * import { connectHarnessStream } from "./mod.ts";
 * const transport = await connectHarnessStream("ws://127.0.0.1:9000/relay?role=harness");
 * transport.close();
 * ```
 */
export async function connectHarnessStream(
  url: string,
  options: ConnectHarnessOptions = {},
): Promise<RelayTransport> {
  let socket: WebSocket;
  try {
    socket = await openWebSocket(url, {
      headers: options.headers,
      timeoutMs: options.connectTimeoutMs ?? 10_000,
    });
  } catch (error) {
    throw new RelayError(
      "connect_failed",
      `cannot connect to the relay at ${url}: ${
        (error as Error).message
      }; check the URL and that the rendezvous is running`,
      { cause: error },
    );
  }
  return openHarnessStream(websocketLink(socket, `rendezvous ${url.split("?")[0]}`), options);
}
