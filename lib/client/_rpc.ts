/**
 * One JSON-RPC conversation over one transport: numbered requests, pending-call table,
 * notification dispatch. It knows nothing about sessions or recovery; the client replaces it
 * with a fresh one after a reconnect.
 * @module
 */
import {
  encodeError,
  encodeNotification,
  encodeRequest,
  ErrorCode,
  parseMessage,
} from "../jsonrpc/mod.ts";
import { type MessageTransport, OversizedMessage } from "../transport/types.ts";
import { log } from "../util/log.ts";
import { DisconnectedError, RemoteCallError } from "./errors.ts";

/**
 * Callbacks of {@link RpcConnection}.
 *
 * @example
 * ```ts
 * const handlers: RpcHandlers = { onNotification(method) { console.log(method); }, onClose() {} };
 * ```
 */
export interface RpcHandlers {
  /** Called for every server notification, in arrival order. */
  onNotification(method: string, params: unknown): void;
  /** Called once, synchronously, before pending calls are rejected, when the transport ends. */
  onClose(connection: RpcConnection): void;
}

/**
 * Options of {@link RpcConnection.request}.
 *
 * @example
 * ```ts
 * const options: RequestOptions = { timeoutMs: 10_000, onTimeout: () => new Error("slow") };
 * ```
 */
export interface RequestOptions {
  /** Rejects with `onTimeout()` when no answer came within this many milliseconds. */
  timeoutMs?: number;
  onTimeout?: () => Error;
}

interface Pending {
  method: string;
  resolve(value: unknown): void;
  reject(reason: unknown): void;
}

const decoder = new TextDecoder();

/**
 * @example
 * ```ts
 * import type { MessageTransport } from "../transport/types.ts";
 * declare const transport: MessageTransport;
 * const rpc = new RpcConnection(transport, { onNotification() {}, onClose() {} });
 * await rpc.request("environment/status", undefined);
 * ```
 */
export class RpcConnection {
  readonly transport: MessageTransport;
  #handlers: RpcHandlers;
  #pending = new Map<number, Pending>();
  #nextId = 1;
  #closed = false;
  #done: Promise<void>;

  constructor(transport: MessageTransport, handlers: RpcHandlers) {
    this.transport = transport;
    this.#handlers = handlers;
    this.#done = this.#readLoop();
  }

  /** Whether the transport has ended. */
  get isClosed(): boolean {
    return this.#closed;
  }

  /** Resolves once the read loop ended and pending calls were rejected. */
  get done(): Promise<void> {
    return this.#done;
  }

  async #readLoop(): Promise<void> {
    try {
      for await (const inbound of this.transport.receive()) {
        if (inbound instanceof OversizedMessage) {
          log.warn(`${this.transport.label}: dropped a message over ${inbound.limit} bytes`);
          continue;
        }
        const text = typeof inbound === "string" ? inbound : decoder.decode(inbound);
        if (!this.#dispatch(text)) break;
      }
    } catch (err) {
      log.debug(`${this.transport.label}: read failed: ${(err as Error).message}`);
    }
    this.#shutdown();
  }

  /** Handles one inbound text; false means the peer broke the protocol and we hang up. */
  #dispatch(text: string): boolean {
    const message = parseMessage(text);
    switch (message.kind) {
      case "malformed":
        // Upstream's client treats an unparsable server message as a dead connection.
        log.warn(`${this.transport.label}: malformed message from server: ${message.detail}`);
        return false;
      case "notification":
        this.#handlers.onNotification(message.method, message.params);
        return true;
      case "request":
        // We implement no server->client methods (they are capability-gated and we advertise none).
        this.transport.send(encodeError(message.id, {
          code: ErrorCode.MethodNotFound,
          message: `client does not implement \`${message.method}\``,
        })).catch(() => {});
        return true;
      case "response":
      case "error": {
        const pending = typeof message.id === "number" ? this.#pending.get(message.id) : undefined;
        if (!pending) {
          log.debug(`${this.transport.label}: answer for unknown id ${message.id}`);
          return true;
        }
        this.#pending.delete(message.id as number);
        if (message.kind === "response") pending.resolve(message.result);
        else {
          pending.reject(
            new RemoteCallError(pending.method, message.error.code, message.error.message),
          );
        }
        return true;
      }
    }
  }

  #shutdown(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.transport.close();
    this.#handlers.onClose(this);
    const error = new DisconnectedError(
      "transport_closed",
      `JSON-RPC transport closed (${this.transport.label})`,
    );
    for (const pending of this.#pending.values()) pending.reject(error);
    this.#pending.clear();
  }

  /**
   * Sends a request and resolves with its result; rejects with {@link RemoteCallError} for an
   * error answer and {@link DisconnectedError} (`transport_closed`) when the transport ends first.
   */
  request(method: string, params: unknown, options: RequestOptions = {}): Promise<unknown> {
    if (this.#closed) {
      return Promise.reject(
        new DisconnectedError(
          "transport_closed",
          `JSON-RPC transport closed (${this.transport.label})`,
        ),
      );
    }
    const id = this.#nextId++;
    const { promise, resolve, reject } = Promise.withResolvers<unknown>();
    let timer: ReturnType<typeof setTimeout> | undefined;
    if (options.timeoutMs !== undefined) {
      timer = setTimeout(() => {
        if (!this.#pending.delete(id)) return;
        reject(options.onTimeout?.() ?? new Error(`${method} timed out`));
      }, options.timeoutMs);
    }
    this.#pending.set(id, {
      method,
      resolve: (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      reject: (reason) => {
        clearTimeout(timer);
        reject(reason);
      },
    });
    this.transport.send(encodeRequest(id, method, params)).catch(() => this.#shutdown());
    return promise;
  }

  /** Sends a notification. */
  async notify(method: string, params: unknown): Promise<void> {
    try {
      await this.transport.send(encodeNotification(method, params));
    } catch (err) {
      this.#shutdown();
      throw new DisconnectedError(
        "transport_closed",
        `JSON-RPC transport closed (${this.transport.label})`,
        { cause: err },
      );
    }
  }

  /** Closes the transport; pending calls reject with `transport_closed`. */
  close(): void {
    this.transport.close();
    this.#shutdown();
  }
}
