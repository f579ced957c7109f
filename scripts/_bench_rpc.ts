/**
 * A deliberately thin JSON-RPC client over a raw WebSocket (servers are started by
 * `_server_process.ts`). The benchmark drives ours and upstream's through the same client, so
 * client overhead cancels out of the ratios; it is kept minimal (no schema validation) so it is
 * rarely the bottleneck.
 * @module
 */
import { pathToFileURL } from "node:url";
import { type MessageTransport, OversizedMessage } from "../lib/transport/types.ts";

type Json = Record<string, unknown>;

/**
 * A JSON-RPC error reply.
 *
 * @example
 * ```ts
 * const error = new RpcError(-32601, "unknown method");
 * ```
 */
export class RpcError extends Error {
  /** The JSON-RPC error code. */
  readonly code: number;
  constructor(code: number, message: string) {
    super(`${code}: ${message}`);
    this.code = code;
    this.name = "RpcError";
  }
}

/** Called for each server notification, with its raw text when `wantsRaw` is set. */
export type NotificationHandler = (method: string, params: Json) => void;

/** The minimum a JSON-RPC client needs from a connection. */
export interface Channel {
  send(text: string): void;
  close(): void;
  /** Starts delivery; `onText` per inbound message, `onClose` once. */
  start(onText: (text: string) => void, onClose: () => void): void;
}

function websocketChannel(socket: WebSocket): Channel {
  const decoder = new TextDecoder();
  return {
    send: (text) => socket.send(text),
    close: () => {
      if (socket.readyState <= WebSocket.OPEN) socket.close();
    },
    start(onText, onClose) {
      socket.onmessage = (event) =>
        onText(
          typeof event.data === "string" ? event.data : decoder.decode(event.data as ArrayBuffer),
        );
      socket.onclose = () => onClose();
    },
  };
}

/**
 * A transport of ours (relay stream, websocket) as a {@link Channel}.
 *
 * @example
 * ```ts
 * const client = new RpcClient(transportChannel(await websocketConnector(url).open()));
 * ```
 */
export function transportChannel(transport: MessageTransport): Channel {
  const decoder = new TextDecoder();
  return {
    send: (text) => {
      transport.send(text).catch(() => {});
    },
    close: () => transport.close(),
    start(onText, onClose) {
      (async () => {
        for await (const inbound of transport.receive()) {
          if (inbound instanceof OversizedMessage) continue;
          onText(typeof inbound === "string" ? inbound : decoder.decode(inbound));
        }
      })().catch(() => {}).finally(onClose);
    },
  };
}

/**
 * One JSON-RPC connection.
 *
 * @example
 * ```ts
 * const client = await RpcClient.connect("ws://127.0.0.1:1234");
 * await client.initialize();
 * await client.call("environment/status");
 * await client.close();
 * ```
 */
export class RpcClient {
  /** Receives every notification. */
  onNotification: NotificationHandler = () => {};
  /** Sees each inbound message's text before parsing; return true to skip parsing it. */
  onRaw: ((text: string) => boolean) | null = null;
  readonly channel: Channel;
  #nextId = 1;
  #pending = new Map<number, { resolve: (v: Json) => void; reject: (e: Error) => void }>();
  readonly closed: Promise<void>;

  /** Wraps an open channel. */
  constructor(channel: Channel) {
    this.channel = channel;
    const { promise, resolve } = Promise.withResolvers<void>();
    this.closed = promise;
    channel.start((text) => {
      if (this.onRaw?.(text)) return;
      const message = JSON.parse(text) as Json;
      if (typeof message.method === "string" && message.id === undefined) {
        this.onNotification(message.method, (message.params ?? {}) as Json);
        return;
      }
      const waiter = this.#pending.get(message.id as number);
      if (!waiter) return;
      this.#pending.delete(message.id as number);
      if (message.error) {
        const e = message.error as { code: number; message: string };
        waiter.reject(new RpcError(e.code, e.message));
      } else {
        waiter.resolve(message.result as Json);
      }
    }, () => {
      for (const w of this.#pending.values()) w.reject(new Error("connection closed"));
      this.#pending.clear();
      resolve();
    });
  }

  /** Opens a websocket to `url`. */
  static async connect(url: string): Promise<RpcClient> {
    const socket = new WebSocket(url);
    socket.binaryType = "arraybuffer";
    await new Promise<void>((resolve, reject) => {
      socket.onopen = () => resolve();
      socket.onerror = (e) => reject(new Error(`websocket ${url}: ${(e as ErrorEvent).message}`));
    });
    return new RpcClient(websocketChannel(socket));
  }

  /** Sends a request and waits for its result. */
  call(method: string, params?: unknown): Promise<Json> {
    const id = this.#nextId++;
    const { promise, resolve, reject } = Promise.withResolvers<Json>();
    this.#pending.set(id, { resolve, reject });
    this.channel.send(
      JSON.stringify(params === undefined ? { id, method } : { id, method, params }),
    );
    return promise;
  }

  /** Sends a notification. */
  notify(method: string, params: unknown = {}): void {
    this.channel.send(JSON.stringify({ method, params }));
  }

  /** The `initialize` + `initialized` handshake. */
  async initialize(clientName = "codex-exec-server-bench"): Promise<Json> {
    const result = await this.call("initialize", { clientName });
    this.notify("initialized", {});
    return result;
  }

  /** Closes the websocket and waits for the close to complete. */
  async close(): Promise<void> {
    this.channel.close();
    await this.closed;
  }
}

/**
 * Runs `argv` to completion through `process/start` and resolves with its decoded output once
 * `process/closed` arrives. Sets `client.onNotification`.
 *
 * @example
 * ```ts
 * const { output } = await runProcess(client, ["echo", "hi"], { processId: "p1" });
 * ```
 */
export async function runProcess(
  client: RpcClient,
  argv: string[],
  options: { processId: string; tty?: boolean; cwd?: string },
): Promise<{ output: string; exitCode: number | null }> {
  const chunks: string[] = [];
  let exitCode: number | null = null;
  const { promise, resolve } = Promise.withResolvers<void>();
  client.onNotification = (method, params) => {
    if (params.processId !== options.processId) return;
    if (method === "process/output") chunks.push(params.chunk as string);
    else if (method === "process/exited") exitCode = params.exitCode as number;
    else if (method === "process/closed") resolve();
  };
  await client.call("process/start", {
    processId: options.processId,
    argv,
    cwd: pathToFileURL(options.cwd ?? Deno.cwd()).href,
    env: { PATH: "/usr/local/bin:/usr/bin:/bin", TERM: "dumb" },
    tty: options.tty ?? false,
  });
  await promise;
  const bytes = chunks.map((c) => Uint8Array.from(atob(c), (ch) => ch.charCodeAt(0)));
  const decoder = new TextDecoder();
  return { output: bytes.map((b) => decoder.decode(b, { stream: true })).join(""), exitCode };
}
