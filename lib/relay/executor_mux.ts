/**
 * Executor side of the relay: one link to the rendezvous carries many harness sessions, each
 * a `stream_id`, each handed to the server core as its own `MessageTransport`.
 * @module
 */
import type { MessageTransport } from "../transport/types.ts";
import type { RelayLink } from "./link.ts";
import { type RelayStreamOptions, resolveRelayOptions } from "./limits.ts";
import { RelayEndpoint } from "./_endpoint.ts";
import type { StreamMode, StreamStats } from "./_stream.ts";

export type { StreamMode, StreamStats };

/**
 * A relay stream as the server core sees it, plus relay diagnostics.
 * @example
 * ```ts
 * import type { RelayTransport } from "./executor_mux.ts";
 * function describe(transport: RelayTransport): string {
 *   return `${transport.id} (${transport.mode}), ${transport.stats().inflightBytes} bytes unacked`;
 * }
 * ```
 */
export interface RelayTransport extends MessageTransport {
  /** The `stream_id`. */
  readonly id: string;
  /** Negotiated mode: `pending`, `reliable` (our peers) or `legacy` (upstream peers). */
  readonly mode: StreamMode;
  /** Why the stream ended, once it has (e.g. `reset by peer (bye)`). */
  readonly endReason: string | undefined;
  /** Memory held by the stream and counters. */
  stats(): StreamStats;
}

/**
 * Options of {@linkcode ExecutorMux}.
 * @example
 * ```ts
 * import type { ExecutorMuxOptions } from "./executor_mux.ts";
 * const options: ExecutorMuxOptions = { onStream: (t) => t.close(), maxStreams: 128 };
 * ```
 */
export interface ExecutorMuxOptions extends RelayStreamOptions {
  /** Called once for each new `stream_id`; serve it like any other connection. */
  onStream: (transport: RelayTransport) => void;
  /**
   * The link died (closed, failed, or silent past `deadAfterMs`). Reliable streams wait
   * `detachedTtlMs` for {@linkcode ExecutorMux.replaceLink}; legacy streams end now.
   */
  onLinkLost?: (reason: string) => void;
  /** Most concurrent streams; further ones are refused with `reset{too_many_streams}`. Default 4096. */
  maxStreams?: number;
  /** How long streams survive without a link. Default 60 s. */
  detachedTtlMs?: number;
}

/**
 * Demultiplexes relay frames by `stream_id` into independent transports and writes their
 * frames fairly (round robin, paced on the link's `bufferedAmount`).
 *
 * @example
 * ```ts
 * import { ExecutorMux, websocketLink } from "./mod.ts";
 * const socket = new WebSocket("ws://127.0.0.1:9000/relay?role=environment");
 * const mux = new ExecutorMux(websocketLink(socket), {
 *   onStream(transport) {
 *     (async () => {
 *       for await (const message of transport.receive()) console.log(transport.id, message);
 *     })();
 *   },
 *   onLinkLost(reason) {
 *     console.error(`rendezvous lost: ${reason}`);
 *     // after reconnecting: mux.replaceLink(websocketLink(newSocket));
 *   },
 * });
 * mux.close();
 * ```
 */
export class ExecutorMux {
  #endpoint: RelayEndpoint;

  /**
   * Starts serving streams over `link`.
   * @param link the executor's link to the rendezvous
   * @param options stream callback and tunables
   */
  constructor(link: RelayLink, options: ExecutorMuxOptions) {
    this.#endpoint = new RelayEndpoint({
      role: "executor",
      options: resolveRelayOptions(options),
      maxStreams: options.maxStreams ?? 4096,
      detachedTtlMs: options.detachedTtlMs ?? 60_000,
      onStream: options.onStream,
      onLinkLost: options.onLinkLost,
    });
    this.#endpoint.attach(link);
  }

  /**
   * Continues over a new link after the old one was lost (or to replace a live one). Each
   * reliable stream sends `resume{next_seq}` and resends what the peer is missing.
   */
  replaceLink(link: RelayLink): void {
    this.#endpoint.attach(link);
  }

  /** Whether a link is attached. */
  get attached(): boolean {
    return this.#endpoint.attached;
  }

  /** Number of open streams. */
  get streamCount(): number {
    return this.#endpoint.streams.size;
  }

  /** The open streams by `stream_id`. */
  streams(): ReadonlyMap<string, RelayTransport> {
    return this.#endpoint.streams;
  }

  /** Resets every stream (with `reason`, default `endpoint_closed`) and closes the link. */
  close(reason?: string): void {
    this.#endpoint.close(reason);
  }
}
