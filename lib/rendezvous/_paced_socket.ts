/**
 * A websocket sender with bounded buffering: writes go straight to the socket while its
 * `bufferedAmount` is low, queue while it is high, and a peer whose queue grows past the
 * bound (it does not read) is closed instead of growing the rendezvous's memory.
 * @module
 */

/** How often a full socket is looked at again. */
const DRAIN_POLL_MS = 2;

/** Construction parameters of a {@linkcode PacedSocket}. */
export interface PacedSocketOptions {
  label: string;
  /** Queue instead of writing while the socket buffers more than this. */
  highWaterBytes: number;
  /** Bound of the queue (bytes not yet handed to the socket). */
  maxQueuedBytes: number;
  /**
   * What to do with a frame that would pass the bound: `close` the peer (a harness: only its
   * own streams suffer) or `drop` the frame (the executor: closing it would hit every stream;
   * reliable relay streams resend what was dropped).
   */
  overflow: "close" | "drop";
  log: (line: string) => void;
  /**
   * Called once when the peer is dropped for not draining: its close handshake may never
   * finish (it does not read), so routing must forget it now rather than on `close`.
   */
  onOverflow?: () => void;
  /** Called when the queue has drained below {@link PacedSocket.pressured}'s mark again. */
  onRelieved?: () => void;
}

/**
 * Queue depths summed and maxed over sockets, for `/metrics`.
 * @example
 * ```ts
 * import { emptyQueueDepths, type QueueDepths } from "./_paced_socket.ts";
 * const depths: QueueDepths = emptyQueueDepths();
 * depths.maxBytes; // 0
 * ```
 */
export interface QueueDepths {
  /** Sockets looked at. */
  sockets: number;
  /** Largest queue of one socket, in bytes. */
  maxBytes: number;
  /** Bytes queued over all sockets. */
  totalBytes: number;
  /** Longest queue of one socket, in frames. */
  maxFrames: number;
  /** Frames queued over all sockets. */
  totalFrames: number;
  /** The largest websocket `bufferedAmount` (handed to the socket, not yet on the wire). */
  maxBuffered: number;
  /** `bufferedAmount` summed over all sockets. */
  totalBuffered: number;
}

/** An empty {@linkcode QueueDepths} to add sockets to. */
export function emptyQueueDepths(): QueueDepths {
  return {
    sockets: 0,
    maxBytes: 0,
    totalBytes: 0,
    maxFrames: 0,
    totalFrames: 0,
    maxBuffered: 0,
    totalBuffered: 0,
  };
}

/** Adds one socket's queue to `depths`. */
export function addQueueDepth(depths: QueueDepths, paced: PacedSocket): void {
  const bytes = paced.queuedBytes;
  const frames = paced.queuedFrames;
  const buffered = paced.socket.bufferedAmount ?? 0;
  depths.sockets++;
  depths.totalBytes += bytes;
  depths.maxBytes = Math.max(depths.maxBytes, bytes);
  depths.totalFrames += frames;
  depths.maxFrames = Math.max(depths.maxFrames, frames);
  depths.totalBuffered += buffered;
  depths.maxBuffered = Math.max(depths.maxBuffered, buffered);
}

/** Close code sent to a peer that does not drain (RFC 6455 1013 "try again later"). */
export const NOT_DRAINING_CLOSE_CODE = 1013;

/** Bounded, paced writer for one socket. */
export class PacedSocket {
  readonly socket: WebSocket;
  #options: PacedSocketOptions;
  #queue: Uint8Array[] = [];
  #queuedBytes = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  #pressured = false;
  /** Frames dropped because the queue was full (`overflow: "drop"`). */
  dropped = 0;

  constructor(socket: WebSocket, options: PacedSocketOptions) {
    this.socket = socket;
    this.#options = options;
    socket.addEventListener("close", () => this.#stop());
  }

  /** Bytes queued here (not yet handed to the socket). */
  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  /** Frames queued here. */
  get queuedFrames(): number {
    return this.#queue.length;
  }

  /**
   * Whether the peer is behind by more than a quarter of the bound: whoever feeds it should stop
   * reading its own socket (TCP backpressure) until {@link PacedSocketOptions.onRelieved}, since a
   * frame past the bound is lost, and an E5 Noise stream has no retransmission to recover it.
   */
  get pressured(): boolean {
    return this.#pressured;
  }

  /** Whether the socket is open and this writer still accepts frames. */
  get open(): boolean {
    return !this.#closed && this.socket.readyState === WebSocket.OPEN;
  }

  /** Queues one binary message; returns false when it was dropped (socket gone or overflow). */
  send(bytes: Uint8Array): boolean {
    if (!this.open) return false;
    if (this.#queue.length === 0 && this.socket.bufferedAmount <= this.#options.highWaterBytes) {
      this.socket.send(bytes);
      return true;
    }
    if (
      this.#options.overflow === "drop" &&
      this.#queuedBytes + bytes.length > this.#options.maxQueuedBytes
    ) {
      this.dropped++;
      if (this.dropped === 1 || this.dropped % 1000 === 0) {
        this.#options.log(
          `rendezvous: ${this.#options.label} is not keeping up (${this.#queuedBytes} bytes queued); dropped ${this.dropped} frame(s) so far`,
        );
      }
      this.#schedule();
      return false;
    }
    this.#queue.push(bytes);
    this.#queuedBytes += bytes.length;
    if (this.#queuedBytes > this.#options.maxQueuedBytes / 4) this.#pressured = true;
    if (this.#queuedBytes > this.#options.maxQueuedBytes) {
      this.#options.log(
        `rendezvous: ${this.#options.label} is not reading (${this.#queuedBytes} bytes queued); closing it`,
      );
      this.close(NOT_DRAINING_CLOSE_CODE, "peer not draining");
      this.#options.onOverflow?.();
      return false;
    }
    this.#schedule();
    return true;
  }

  /** Closes the socket (idempotent) and drops the queue. */
  close(code: number, reason: string): void {
    this.#stop();
    if (
      this.socket.readyState === WebSocket.OPEN || this.socket.readyState === WebSocket.CONNECTING
    ) {
      try {
        this.socket.close(code, reason);
      } catch {
        // already closing
      }
    }
  }

  #stop(): void {
    this.#closed = true;
    if (this.#pressured) {
      this.#pressured = false;
      this.#options.onRelieved?.();
    }
    this.#queue = [];
    this.#queuedBytes = 0;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #schedule(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#drain();
    }, DRAIN_POLL_MS);
  }

  #drain(): void {
    if (!this.open) return;
    while (this.#queue.length > 0 && this.socket.bufferedAmount <= this.#options.highWaterBytes) {
      const bytes = this.#queue.shift()!;
      this.#queuedBytes -= bytes.length;
      this.socket.send(bytes);
    }
    if (this.#queue.length > 0) this.#schedule();
    // Relieved at half the mark, so a peer near it does not pause and resume its feeder per frame.
    if (this.#pressured && this.#queuedBytes <= this.#options.maxQueuedBytes / 8) {
      this.#pressured = false;
      this.#options.onRelieved?.();
    }
  }
}
