/**
 * One client connection on the server: parses messages, enforces the initialize/initialized gate,
 * dispatches to method handlers in order (or on two lanes with `--concurrent-requests N`), and
 * detaches its session when the transport ends (spec §1, §2).
 * @module
 */
import { Method, Notification } from "../protocol/methods.ts";
import { ErrorCode, internalError, invalidRequest, RpcError } from "../jsonrpc/errors.ts";
import {
  encodeError,
  encodeNotification,
  encodeResponse,
  type Message,
  parseMessage,
  type RequestMessage,
} from "../jsonrpc/message.ts";
import { type MessageTransport, OversizedMessage, SENT } from "../transport/types.ts";
import { Semaphore } from "../util/async.ts";
import type { ConnectionContext, Lane, MethodContext, MethodTable } from "../method/method.ts";
import { parseParams } from "../method/params_error.ts";
import type { Session } from "../method/session.ts";
import type { SessionOwner, SessionRegistry } from "./session_registry.ts";
import { environmentInfo } from "./environment.ts";
import { initializeParams, isUnitValue, unitParams } from "../protocol/environment.ts";
import { log } from "../util/log.ts";
import { markInteractive } from "../util/bulk_priority.ts";

/**
 * With `--concurrent-requests N`, the most requests of one connection held at once (running or
 * waiting for a lane); past it the connection is not read until one finishes.
 *
 * @example
 * ```ts
 * console.log(`at most ${MAX_PIPELINED_REQUESTS} requests in flight per connection`);
 * ```
 */
export const MAX_PIPELINED_REQUESTS = 256;

/** A send to a peer that is gone fails; the connection is closing then and says so itself. */
function ignoreGonePeer(): void {}

/** Shared by all connections of one server. */
export interface ConnectionDeps {
  registry: SessionRegistry;
  methods: MethodTable;
  /** 1 = strictly in order (upstream default); N ≥ 2 = two lanes of N after the handshake. */
  concurrentRequests: number;
}

type HandshakeState = "new" | "initialized-pending" | "ready";

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Serves one transport until it closes.
 *
 * @example
 * ```ts
 * import type { MessageTransport } from "../transport/types.ts";
 * import type { ConnectionDeps } from "./connection.ts";
 * declare const deps: ConnectionDeps;
 * declare const transport: MessageTransport;
 * await new ServerConnection(transport, deps).run();
 * ```
 */
export class ServerConnection implements ConnectionContext, SessionOwner {
  readonly label: string;
  #transport: MessageTransport;
  #deps: ConnectionDeps;
  #state: HandshakeState = "new";
  #session: Session | null = null;
  #evicted = false;
  #closing = false;
  #abort = new AbortController();
  #resources = new Map<string, Disposable | AsyncDisposable>();
  #lanes: Record<Lane, Semaphore> | null;
  /** Requests on the lanes, running or waiting for a permit. */
  #pipelined = 0;
  #pipelineFreed: PromiseWithResolvers<void> | null = null;

  constructor(transport: MessageTransport, deps: ConnectionDeps) {
    this.#transport = transport;
    this.#deps = deps;
    this.label = transport.label;
    this.#lanes = deps.concurrentRequests >= 2
      ? {
        control: new Semaphore(deps.concurrentRequests),
        ordinary: new Semaphore(deps.concurrentRequests),
      }
      : null;
  }

  /** Aborted when the connection ends, or with a -32600 reason when the session is taken over. */
  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  /** Reads and handles messages until the transport ends or the connection must close. */
  async run(): Promise<void> {
    // A long poll holds the read loop in inline mode; a dead peer must still detach at once.
    this.#transport.closed.then(() => this.#close());
    try {
      for await (const inbound of this.#transport.receive()) {
        if (this.#evicted) break;
        if (inbound instanceof OversizedMessage) {
          await this.#sendError(
            -1,
            invalidRequest(
              `JSON-RPC message exceeds the ${inbound.limit}-byte limit and was discarded`,
            ),
          );
          continue;
        }
        let text: string;
        try {
          text = typeof inbound === "string" ? inbound : utf8.decode(inbound);
        } catch {
          await this.#sendError(-1, invalidRequest(`${this.#parseFailurePrefix()}: invalid UTF-8`));
          continue;
        }
        const message = parseMessage(text);
        if (message.kind === "malformed") {
          await this.#sendError(
            -1,
            invalidRequest(`${this.#parseFailurePrefix()}: ${message.detail}`),
          );
          continue;
        }
        // Most messages are handled synchronously: only a promise costs a turn.
        const handled = this.#handle(message);
        if (!(handled instanceof Promise ? await handled : handled)) break;
      }
    } catch (err) {
      log.warn(`connection ${this.label} failed: ${(err as Error).message}`);
    } finally {
      await this.#close();
    }
  }

  notify(method: string, params: unknown): Promise<void> {
    if (this.#closing) return Promise.resolve();
    return this.#transport.send(encodeNotification(method, params));
  }

  evict(): void {
    this.#evicted = true;
    this.#abort.abort(invalidRequest("session has been resumed by another connection"));
  }

  resource<T extends Disposable | AsyncDisposable>(key: string, create: () => T): T {
    let value = this.#resources.get(key) as T | undefined;
    if (value === undefined) {
      if (this.#closing) throw internalError("connection is closed");
      value = create();
      this.#resources.set(key, value);
    }
    return value;
  }

  #parseFailurePrefix(): string {
    const kind = this.label.startsWith("exec-server websocket") ? "websocket " : "";
    return `failed to parse ${kind}JSON-RPC message from ${this.label}`;
  }

  /** Handles one message; false when the connection must close. */
  #handle(message: Message): boolean | Promise<boolean> {
    switch (message.kind) {
      case "notification":
        if (message.method !== Notification.initialized) {
          log.warn(`${this.label}: unexpected notification \`${message.method}\`; closing`);
          return false;
        }
        if (this.#state !== "initialized-pending") {
          log.warn(`${this.label}: received \`initialized\` notification before \`initialize\``);
          return false;
        }
        this.#state = "ready";
        return true;
      case "response":
      case "error":
        log.warn(`${this.label}: unexpected response id ${message.id}; closing`);
        return false;
      case "request":
        markInteractive(this.#session ?? this);
        if (this.#lanes && this.#state === "ready" && message.method !== Method.initialize) {
          const spec = this.#deps.methods[message.method];
          const lane = this.#lanes[spec?.lane ?? "ordinary"];
          this.#pipelined++;
          lane.run(async () => await this.#answer(message)).catch(() => {}).finally(() => {
            this.#pipelined--;
            this.#pipelineFreed?.resolve();
          });
          // Stop reading (the transport then stops reading the socket) instead of keeping every
          // pipelined request of a peer that sends faster than the lanes answer.
          if (this.#pipelined >= MAX_PIPELINED_REQUESTS) return this.#awaitPipelineRoom();
        } else {
          const answered = this.#answer(message);
          if (answered) return answered.then(() => true);
        }
        return true;
    }
  }

  async #awaitPipelineRoom(): Promise<boolean> {
    while (this.#pipelined >= MAX_PIPELINED_REQUESTS && !this.#closing) {
      this.#pipelineFreed = Promise.withResolvers<void>();
      await Promise.race([this.#pipelineFreed.promise, this.#transport.closed]);
    }
    return true;
  }

  /** Answers one request; a promise only while the handler or the transport has to wait. */
  #answer(request: RequestMessage): Promise<void> | undefined {
    let afterResponse: (() => void | Promise<void>)[] | undefined;
    let result: unknown;
    try {
      result = this.#dispatch(request, (task) => (afterResponse ??= []).push(task));
    } catch (err) {
      return this.#answerError(request, err);
    }
    if (result instanceof Promise) {
      return result.then(
        (value) => this.#respond(request, value, afterResponse),
        (err) => this.#answerError(request, err),
      );
    }
    return this.#respond(request, result, afterResponse);
  }

  #respond(
    request: RequestMessage,
    result: unknown,
    afterResponse: (() => void | Promise<void>)[] | undefined,
  ): Promise<void> | undefined {
    if (this.#closing) return;
    let text: string;
    try {
      text = encodeResponse(request.id, result);
    } catch (err) {
      return this.#answerError(request, err);
    }
    const sent = this.#transport.send(text);
    if (!afterResponse) return sent === SENT ? undefined : sent.catch(ignoreGonePeer);
    // The peer may be gone (the connection is closing): the tasks run all the same.
    return sent.catch(ignoreGonePeer).then(() => {
      for (const task of afterResponse) {
        Promise.resolve().then(task).catch((err) =>
          log.error(`${request.method} background task failed: ${String(err)}`)
        );
      }
    });
  }

  #answerError(request: RequestMessage, err: unknown): Promise<void> | undefined {
    if (this.#closing && !(err instanceof RpcError && this.#evicted)) return;
    const rpcError = err instanceof RpcError ? err : internalError(String(err));
    if (!(err instanceof RpcError)) log.error(`${request.method} failed: ${String(err)}`);
    return this.#sendError(request.id, rpcError);
  }

  #dispatch(
    request: RequestMessage,
    afterResponse: (task: () => void | Promise<void>) => void,
  ): unknown {
    if (request.method === Method.initialize) return this.#initialize(request.params);
    const spec = this.#deps.methods[request.method];
    if (!spec) {
      throw new RpcError(
        ErrorCode.MethodNotFound,
        `exec-server stub does not implement \`${request.method}\` yet`,
      );
    }
    if (this.#state === "new") {
      throw invalidRequest(`client must call initialize before using ${spec.family} methods`);
    }
    if (this.#state === "initialized-pending") {
      throw invalidRequest(`client must send initialized before using ${spec.family} methods`);
    }
    const raw = request.params ?? null;
    // Unit params (health checks) are valid as they came: no schema run on the hottest methods.
    const params = spec.params === unitParams && isUnitValue(raw)
      ? raw
      : parseParams(spec.params, raw);
    const context: MethodContext = {
      session: this.#session!,
      connection: this,
      afterResponse,
    };
    return spec.handle(params, context);
  }

  #initialize(params: unknown): unknown {
    if (this.#state !== "new") {
      throw invalidRequest("initialize may only be sent once per connection");
    }
    const { resumeSessionId } = parseParams(initializeParams, params ?? null);
    this.#session = resumeSessionId
      ? this.#deps.registry.resume(resumeSessionId, this)
      : this.#deps.registry.create(this);
    this.#state = "initialized-pending";
    return { sessionId: this.#session.id, environmentInfo: environmentInfo() };
  }

  async #sendError(id: string | number, error: RpcError): Promise<void> {
    if (this.#closing) return;
    await this.#transport.send(encodeError(id, error)).catch(() => {});
  }

  async #close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    if (!this.#abort.signal.aborted) this.#abort.abort(new Error("connection closed"));
    if (this.#session) this.#deps.registry.detach(this.#session, this);
    this.#transport.close();
    for (const resource of this.#resources.values()) {
      try {
        if (Symbol.asyncDispose in resource) await resource[Symbol.asyncDispose]();
        else resource[Symbol.dispose]();
      } catch (err) {
        log.warn(`${this.label}: closing a resource failed: ${String(err)}`);
      }
    }
    this.#resources.clear();
  }
}
