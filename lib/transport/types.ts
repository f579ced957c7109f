/** A message that exceeded the transport's size limit; the bytes were discarded unread. */
export class OversizedMessage {
  /**
   * @example
   * ```ts
   * new OversizedMessage(64 * 1024 * 1024);
   * ```
   */
  constructor(readonly limit: number) {}
}

/** One inbound unit from a transport: a whole JSON text (string or UTF-8 bytes) or an oversize marker. */
export type Inbound = string | Uint8Array | OversizedMessage;

/**
 * What {@link MessageTransport.send} returns for a message the transport took at once.
 *
 * @example
 * ```ts
 * declare const transport: MessageTransport;
 * if (transport.send("{}") === SENT) console.log("no need to wait");
 * ```
 */
export const SENT: Promise<void> = Promise.resolve();

/**
 * One bidirectional channel of JSON-RPC messages: a websocket, stdio JSON lines, or a relay stream.
 * The server and client never need to know which.
 */
export interface MessageTransport {
  /** Names the peer in error messages, e.g. `exec-server websocket 127.0.0.1:4242`. */
  readonly label: string;
  /** Inbound messages in arrival order; the iteration ends when the peer disconnects. */
  receive(): AsyncIterable<Inbound>;
  /**
   * Sends one message; resolves once the transport accepted it (waits while its buffer is full).
   * Messages leave in the order of the calls, also when a caller does not await one send before
   * making the next (a process's `exited` and `closed`). {@link SENT} means it was accepted at
   * once, so a caller need not wait a turn for it.
   */
  send(text: string): Promise<void>;
  /** Closes the channel; idempotent. */
  close(): void;
  /** Resolves once the channel is closed from either side. */
  readonly closed: Promise<void>;
  /**
   * How the peer ended the channel, when the transport can tell (a websocket close code and
   * reason, e.g. 1001 "server shutting down"); undefined while open or when unknown.
   */
  readonly closeInfo?: { code: number; reason: string };
}

/** Largest JSON-RPC message accepted on any transport (64 MiB, as upstream). */
export const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;
