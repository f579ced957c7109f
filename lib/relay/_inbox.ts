/**
 * The application side of one relay stream's receive direction: complete messages waiting to
 * be read through `MessageTransport.receive()`, and their byte count, which the stream uses for
 * flow control (stop accepting from a reliable peer, reset a legacy one).
 * @module
 */
import type { Inbound } from "../transport/types.ts";

/**
 * What one queued message costs beyond its bytes (its object and queue slot), charged against
 * the delivery bound: a packed segment can carry ~12,000 one-byte messages, and counting their
 * bytes alone let a peer queue millions of objects within a 16 MiB bound.
 */
const MESSAGE_OVERHEAD_BYTES = 64;

function inboundSize(item: Inbound): number {
  const bytes = typeof item === "string"
    ? item.length
    : item instanceof Uint8Array
    ? item.length
    : 0;
  return bytes + MESSAGE_OVERHEAD_BYTES;
}

/**
 * Queue of delivered messages with one reader. `close()` lets the reader drain what is queued
 * and then end (the stream ended); `discard()` drops the queue and ends the reader at once (the
 * application closed its side).
 *
 * @example
 * ```ts
 * const inbox = new Inbox(() => {});
 * inbox.push(new Uint8Array([1]));
 * inbox.close();
 * for await (const message of inbox.read()) console.log(message); // Uint8Array [ 1 ]
 * ```
 */
export class Inbox {
  #queue: Inbound[] = [];
  #bytes = 0;
  #wakeReader: (() => void) | undefined;
  #discarded = false;
  #closed = false;
  #onTake: () => void;

  /** @param onTake runs after the reader took a message (the queue shrank) */
  constructor(onTake: () => void) {
    this.#onTake = onTake;
  }

  /** Bytes of messages the application has not read yet. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Queues one message for the reader; ignored once discarded. */
  push(message: Inbound): void {
    if (this.#discarded) return;
    this.#queue.push(message);
    this.#bytes += inboundSize(message);
    this.#wake();
  }

  /** The messages in order; ends after {@link Inbox.close} (once drained) or {@link Inbox.discard}. */
  async *read(): AsyncIterable<Inbound> {
    while (true) {
      if (this.#discarded) return;
      const item = this.#queue.shift();
      if (item !== undefined) {
        this.#bytes -= inboundSize(item);
        this.#onTake();
        yield item;
        continue;
      }
      if (this.#closed) return;
      await new Promise<void>((resolve) => this.#wakeReader = resolve);
    }
  }

  /** No more messages will come; the reader still gets the queued ones. */
  close(): void {
    this.#closed = true;
    this.#wake();
  }

  /** Drops the queued messages and ends the reader now. */
  discard(): void {
    this.#discarded = true;
    this.#queue = [];
    this.#bytes = 0;
    this.#wake();
  }

  #wake(): void {
    const wake = this.#wakeReader;
    this.#wakeReader = undefined;
    wake?.();
  }
}
