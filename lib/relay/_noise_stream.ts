/**
 * One established Noise relay stream as a {@linkcode MessageTransport}: outgoing JSON-RPC
 * messages are sealed into records and written as `data` frames (`seq` = record nonce,
 * `segment_count` 1); incoming records are reordered, decrypted and unframed. Shared by the
 * executor mux and the harness transport.
 *
 * Sending is buffered: `send()` resolves once the message is queued (and waits only while
 * more than {@linkcode NoiseStreamInit.sendBufferBytes} are queued), and one writer seals
 * everything queued since its last pass as one byte stream, so a burst of small messages
 * (8 KiB output notifications) shares 60 KiB records instead of costing a record, an AES-GCM
 * call and a relay frame each. `close()` writes what is queued first.
 * @module
 */
import { checkMessageLength, type NoiseChannel } from "../noise/mod.ts";
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
  /**
   * Stop reading the link ({@linkcode RelayLink.setReading}) while the application is
   * {@linkcode INBOUND_HIGH_WATER} messages behind, and read again once it has caught up to a
   * quarter of that. Only for a link that carries this stream alone (the harness): pausing a
   * shared link would stall every other stream on it. Default false.
   */
  pauseLinkWhenBehind?: boolean;
  /** Pause writing while the link buffers more than this. Default 1 MiB. */
  highWaterBytes?: number;
  /** `send()` waits while more than this many bytes are queued and not sealed. Default 1 MiB. */
  sendBufferBytes?: number;
}

/**
 * Messages waiting for the application (decrypted, or in records being opened) at which a
 * {@linkcode NoiseStreamInit.pauseLinkWhenBehind} stream stops reading its link: an E5 peer
 * never retransmits, so the alternative to pausing is failing the stream at
 * {@linkcode NoiseStreamInit.maxQueuedMessages} (1024), which a burst after a stalled link
 * reached (the executor's 60 KiB records carry 5-7 output notifications each).
 */
export const INBOUND_HIGH_WATER = 256;

/** At most this many plaintext bytes are sealed per writer pass (16 records). */
const BATCH_BYTES = 16 * 60 * 1024;

const encoder = new TextEncoder();

/** A Noise relay stream. */
export class NoiseStream implements MessageTransport {
  readonly id: string;
  readonly label: string;
  readonly closed: Promise<void>;
  #init: NoiseStreamInit;
  #inbound = new AsyncQueue<Inbound>({ onTake: () => this.#pace() });
  /** Records handed to {@linkcode NoiseStream.deliver} whose messages are not queued yet. */
  #opening = 0;
  /** Whether this stream stopped reading its link (the application is behind). */
  #linkPaused = false;
  #closed = Promise.withResolvers<void>();
  #endReason: string | undefined;
  #delivering: Promise<void> = Promise.resolve();
  /** Encoded messages not yet sealed, oldest first. */
  #queue: Uint8Array[] = [];
  #queuedBytes = 0;
  #writing = false;
  #closing = false;
  #spaceWaiters: { resolve: () => void; reject: (error: Error) => void }[] = [];

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
    if (this.#endReason !== undefined || this.#closing) {
      return Promise.reject(this.#closedError());
    }
    const bytes = encoder.encode(text);
    try {
      checkMessageLength(bytes.length);
    } catch (error) {
      return Promise.reject(error);
    }
    this.#queue.push(bytes);
    this.#queuedBytes += bytes.length;
    if (!this.#writing) this.#write();
    if (this.#queuedBytes <= (this.#init.sendBufferBytes ?? 1024 * 1024)) return Promise.resolve();
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    this.#spaceWaiters.push({ resolve, reject });
    return promise;
  }

  #closedError(): RelayError {
    return new RelayError(
      "stream_closed",
      `relay stream ${this.id} closed: ${this.#endReason ?? "closing"}`,
    );
  }

  /** The one writer: seals what is queued (a batch at a time) and writes it, paced. */
  async #write(): Promise<void> {
    this.#writing = true;
    try {
      // Let the sends of the current task join the first batch.
      await Promise.resolve();
      const high = this.#init.highWaterBytes ?? 1024 * 1024;
      while (this.#queue.length > 0 && this.#endReason === undefined) {
        const batch: Uint8Array[] = [];
        let bytes = 0;
        while (this.#queue.length > 0 && (batch.length === 0 || bytes < BATCH_BYTES)) {
          const message = this.#queue.shift()!;
          batch.push(message);
          bytes += message.length;
        }
        this.#queuedBytes -= bytes;
        this.#releaseSpace();
        const records = await this.#init.channel.sealAll(batch);
        for (const { seq, record } of records) {
          const link = this.#init.link;
          while (this.#endReason === undefined && link.bufferedAmount > high) {
            // On the link's own drain where it tells (a 1 ms poll held E5 streams back).
            await (link.whenBelow ? link.whenBelow(high / 2) : delay(1));
          }
          if (this.#endReason !== undefined) return;
          this.#init.link.send(encodeFrame({
            streamId: this.id,
            body: {
              case: "data",
              value: { seq, segmentIndex: 0, segmentCount: 1, payload: record },
            },
          }));
        }
      }
    } catch (error) {
      // Sealing failed (nonce space used up): nothing more can be sent on this stream.
      this.#finish(false, `cannot seal: ${(error as Error).message}`);
    } finally {
      this.#writing = false;
    }
    if (this.#closing && this.#endReason === undefined) this.#finish(true, "closed locally");
  }

  #releaseSpace(): void {
    if (this.#queuedBytes > (this.#init.sendBufferBytes ?? 1024 * 1024)) return;
    for (const waiter of this.#spaceWaiters.splice(0)) waiter.resolve();
  }

  /**
   * Takes one inbound `data` payload. Records are opened in arrival order (the channel
   * reorders by seq); a failure ends the stream and is reported to `onError`.
   */
  deliver(seq: number, record: Uint8Array, onError: (error: Error) => void): void {
    if (this.#endReason !== undefined) return;
    const opened = this.#init.channel.open(seq, record);
    this.#opening++;
    this.#pace();
    this.#delivering = this.#delivering.then(async () => {
      let messages: Uint8Array[];
      try {
        messages = await opened;
      } catch (error) {
        onError(error as Error);
        return;
      } finally {
        this.#opening--;
      }
      const limit = this.#init.maxQueuedMessages ?? 1024;
      for (const message of messages) {
        // Once the link is paused, no record arrives until the application catches up, and the
        // records delivered before (each counted as one message while it was opened, though it
        // may carry several) are ours to hold: the limit is for a link that does not pause.
        if (this.#inbound.length >= limit && !this.#linkPaused) {
          onError(new RelayError("protocol_error", `more than ${limit} messages queued`));
          return;
        }
        this.#inbound.push(message);
      }
      // A record that only continues a large message queues nothing: look again here too.
      this.#pace();
    });
  }

  /** Messages the application has not taken yet, counting a record being opened as one. */
  get #behind(): number {
    return this.#inbound.length + this.#opening;
  }

  /** Stops or restarts reading the link as the application falls behind or catches up. */
  #pace(): void {
    if (!this.#init.pauseLinkWhenBehind) return;
    const behind = this.#behind;
    if (!this.#linkPaused && behind >= INBOUND_HIGH_WATER && this.#endReason === undefined) {
      this.#linkPaused = true;
      this.#init.link.setReading?.(false);
    } else if (this.#linkPaused && behind <= INBOUND_HIGH_WATER / 4) {
      this.#linkPaused = false;
      this.#init.link.setReading?.(true);
    }
  }

  /** Ends the stream from the peer's side (reset, link loss, protocol error). */
  end(reason: string): void {
    this.#finish(false, reason);
  }

  close(): void {
    if (this.#endReason !== undefined || this.#closing) return;
    // Queued messages were accepted by `send()`: write them before the stream ends.
    this.#closing = true;
    if (!this.#writing) this.#finish(true, "closed locally");
  }

  #finish(local: boolean, reason: string): void {
    if (this.#endReason !== undefined) return;
    this.#endReason = reason;
    this.#queue = [];
    this.#queuedBytes = 0;
    const error = this.#closedError();
    for (const waiter of this.#spaceWaiters.splice(0)) waiter.reject(error);
    this.#inbound.close();
    this.#closed.resolve();
    this.#init.onEnd(local, reason);
  }
}
