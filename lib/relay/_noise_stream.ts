/**
 * One established Noise relay stream as a {@linkcode MessageTransport}: outgoing JSON-RPC
 * messages are sealed into records and written as `data` frames (`seq` = record nonce,
 * `segment_count` 1); incoming records are reordered, decrypted and unframed. Shared by the
 * executor mux and the harness transport.
 * @module
 */
import type { NoiseChannel } from "../noise/mod.ts";
import type { Inbound, MessageTransport } from "../transport/types.ts";
import { AsyncQueue } from "../util/async_queue.ts";
import { delay } from "../util/async.ts";
import { RelayError } from "./errors.ts";
import { encodeFrame } from "./frame.ts";
import type { RelayLink } from "./link.ts";

/** Construction parameters of a {@linkcode NoiseStream}. */
export interface NoiseStreamInit {
  id: string;
  label: string;
  channel: NoiseChannel;
  link: RelayLink;
  /** Called once when the stream ends; `local` when our side closed it. */
  onEnd: (local: boolean, reason: string) => void;
  /** Most decrypted messages waiting for the application (above: the stream fails). */
  maxQueuedMessages?: number;
  /** Pause writing while the link buffers more than this. Default 1 MiB. */
  highWaterBytes?: number;
}

/** A Noise relay stream. */
export class NoiseStream implements MessageTransport {
  readonly id: string;
  readonly label: string;
  readonly closed: Promise<void>;
  #init: NoiseStreamInit;
  #inbound = new AsyncQueue<Inbound>();
  #closed = Promise.withResolvers<void>();
  #endReason: string | undefined;
  #writes: Promise<void> = Promise.resolve();
  #delivering: Promise<void> = Promise.resolve();

  constructor(init: NoiseStreamInit) {
    this.id = init.id;
    this.label = init.label;
    this.#init = init;
    this.closed = this.#closed.promise;
  }

  /** Why the stream ended, once it has. */
  get endReason(): string | undefined {
    return this.#endReason;
  }

  receive(): AsyncIterable<Inbound> {
    return this.#inbound;
  }

  send(text: string): Promise<void> {
    if (this.#endReason !== undefined) {
      return Promise.reject(
        new RelayError("stream_closed", `relay stream ${this.id} closed: ${this.#endReason}`),
      );
    }
    let sealed;
    try {
      sealed = this.#init.channel.seal(new TextEncoder().encode(text));
    } catch (error) {
      return Promise.reject(error);
    }
    const write = this.#writes.then(async () => {
      const records = await sealed;
      const high = this.#init.highWaterBytes ?? 1024 * 1024;
      for (const { seq, record } of records) {
        while (this.#endReason === undefined && this.#init.link.bufferedAmount > high) {
          await delay(1);
        }
        if (this.#endReason !== undefined) {
          throw new RelayError(
            "stream_closed",
            `relay stream ${this.id} closed: ${this.#endReason}`,
          );
        }
        this.#init.link.send(encodeFrame({
          streamId: this.id,
          body: { case: "data", value: { seq, segmentIndex: 0, segmentCount: 1, payload: record } },
        }));
      }
    });
    this.#writes = write.catch(() => {});
    return write;
  }

  /**
   * Takes one inbound `data` payload. Records are opened in arrival order (the channel
   * reorders by seq); a failure ends the stream and is reported to `onError`.
   */
  deliver(seq: number, record: Uint8Array, onError: (error: Error) => void): void {
    if (this.#endReason !== undefined) return;
    const opened = this.#init.channel.open(seq, record);
    this.#delivering = this.#delivering.then(async () => {
      let messages: Uint8Array[];
      try {
        messages = await opened;
      } catch (error) {
        onError(error as Error);
        return;
      }
      const limit = this.#init.maxQueuedMessages ?? 1024;
      for (const message of messages) {
        if (this.#inbound.length >= limit) {
          onError(new RelayError("protocol_error", `more than ${limit} messages queued`));
          return;
        }
        this.#inbound.push(message);
      }
    });
  }

  /** Ends the stream from the peer's side (reset, link loss, protocol error). */
  end(reason: string): void {
    this.#finish(false, reason);
  }

  close(): void {
    this.#finish(true, "closed locally");
  }

  #finish(local: boolean, reason: string): void {
    if (this.#endReason !== undefined) return;
    this.#endReason = reason;
    this.#inbound.close();
    this.#closed.resolve();
    this.#init.onEnd(local, reason);
  }
}
