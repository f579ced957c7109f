/**
 * Publishing with a measure of what is still in flight: NATS clients buffer every `publish`
 * without limit, so this counts the bytes published since the last completed flush (a
 * PING/PONG round trip: everything before it reached the server). Senders treat that count
 * like a websocket's `bufferedAmount` and queue or drop past their bounds.
 * @module
 */
import type { MsgHdrs, NatsConnection } from "@nats-io/nats-core";

/** How soon a small backlog is confirmed. */
const LAZY_FLUSH_MS = 20;

/**
 * Paced publisher over one NATS connection (shared by every sender of a node).
 * @example
 * ```ts ignore
 * const outbox = new NatsOutbox(nc, 1024 * 1024);
 * if (outbox.bufferedAmount < 32 * 1024 * 1024) outbox.publish("rdv.x.e1.in", frame);
 * ```
 */
export class NatsOutbox {
  readonly #nc: NatsConnection;
  readonly #flushAboveBytes: number;
  #pending = 0;
  #flushing = false;
  #lazyTimer: ReturnType<typeof setTimeout> | undefined;
  /** Frames and bytes handed to NATS. */
  published = 0;
  publishedBytes = 0;

  constructor(nc: NatsConnection, flushAboveBytes: number) {
    this.#nc = nc;
    this.#flushAboveBytes = flushAboveBytes;
  }

  /** Bytes published whose arrival at the server is not yet confirmed. */
  get bufferedAmount(): number {
    return this.#pending;
  }

  /** Whether the connection can take messages. */
  get open(): boolean {
    return !this.#nc.isClosed();
  }

  /** Largest payload the server accepts (its `max_payload`). */
  get maxPayload(): number {
    return this.#nc.info?.max_payload ?? 1024 * 1024;
  }

  /** Publishes one message; false when the connection is closed or refused it. */
  publish(
    subject: string,
    data: Uint8Array,
    options: { reply?: string; headers?: MsgHdrs } = {},
  ): boolean {
    if (this.#nc.isClosed()) return false;
    try {
      this.#nc.publish(subject, data, options);
    } catch {
      return false;
    }
    this.published++;
    this.publishedBytes += data.length;
    this.#pending += data.length;
    if (this.#pending > this.#flushAboveBytes) this.#flush();
    else this.#lazyFlush();
    return true;
  }

  /** Confirms small trickles too, so `bufferedAmount` (and its metric) returns to zero. */
  #lazyFlush(): void {
    if (this.#lazyTimer !== undefined || this.#flushing) return;
    this.#lazyTimer = setTimeout(() => {
      this.#lazyTimer = undefined;
      if (this.#pending > 0 && !this.#nc.isClosed()) this.#flush();
    }, LAZY_FLUSH_MS);
  }

  #flush(): void {
    if (this.#flushing) return;
    this.#flushing = true;
    const covered = this.#pending;
    this.#nc.flush().then(() => {
      this.#pending = Math.max(0, this.#pending - covered);
    }, () => {
      // Disconnected: the client resends its buffer after reconnecting; nothing to count.
      this.#pending = 0;
    }).finally(() => {
      this.#flushing = false;
      if (this.#pending > this.#flushAboveBytes) this.#flush();
      else if (this.#pending > 0) this.#lazyFlush();
    });
  }
}
