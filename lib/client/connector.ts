/**
 * Connectors: how the client reaches a server. Each `open()` yields a fresh transport; the
 * client calls it again to recover after a disconnect when the connector is `resumable`.
 * @module
 */
import { connectHarnessStream } from "../relay/mod.ts";
import { resolveHarnessUrl } from "../registry/mod.ts";
import type { MessageTransport } from "../transport/types.ts";
import { openWebSocket, WebSocketOpenError } from "../transport/open_websocket.ts";
import { websocketTransport } from "../transport/websocket.ts";
import { ConnectError } from "./errors.ts";
import { spawnStdioServer } from "./_stdio_child.ts";

/**
 * Opens transports to one server.
 *
 * @example
 * ```ts
 * const connector: Connector = websocketConnector("ws://127.0.0.1:4000");
 * const transport = await connector.open({ timeoutMs: 5000 });
 * transport.close();
 * ```
 */
export interface Connector {
  /** What we connect to, for messages: a URL (no secrets) or a command line. */
  readonly target: string;
  /** Names the transport kind in messages, e.g. `exec-server websocket`. */
  readonly kind: string;
  /**
   * Whether a new transport reaches the same server (so a session can be resumed). A stdio
   * command is not resumable: a new child is a new server.
   */
  readonly resumable: boolean;
  /** Opens one transport; rejects with {@link ConnectError}. */
  open(options?: OpenOptions): Promise<MessageTransport>;
  /** Pause before recovery attempt `attempt` (0-based); default 100 ms each. */
  recoveryDelayMs?(attempt: number): number;
}

/**
 * Options of {@link Connector.open}.
 *
 * @example
 * ```ts
 * const options: OpenOptions = { timeoutMs: 5000 };
 * ```
 */
export interface OpenOptions {
  /** Gives up after this long (default: the connector's own connect timeout). */
  timeoutMs?: number;
}

/**
 * Options of {@link websocketConnector}.
 *
 * @example
 * ```ts
 * const options: WebSocketConnectorOptions = { token: "s3cret", connectTimeoutMs: 5000 };
 * ```
 */
export interface WebSocketConnectorOptions {
  /** Sent as `Authorization: Bearer <token>`; never printed. */
  token?: string;
  /** Extra upgrade headers. */
  headers?: Record<string, string>;
  /** Default 10 s, as upstream. */
  connectTimeoutMs?: number;
}

/**
 * Default connect timeout (upstream's `connect_timeout`).
 *
 * @example
 * ```ts
 * declare const url: string;
 * websocketConnector(url, { connectTimeoutMs: DEFAULT_CONNECT_TIMEOUT_MS / 2 });
 * ```
 */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

function upgradeHeaders(options: WebSocketConnectorOptions): Record<string, string> | undefined {
  const headers = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  return Object.keys(headers).length > 0 ? headers : undefined;
}

function classifyWebSocketFailure(
  url: string,
  err: WebSocketOpenError,
  timeoutMs: number,
): ConnectError {
  if (err.code === "timeout") {
    return new ConnectError(
      "timeout",
      url,
      `timed out connecting to exec-server websocket \`${url}\` after ${timeoutMs} ms`,
      { cause: err },
    );
  }
  if (err.status === 401) {
    return new ConnectError(
      "auth_refused",
      url,
      `exec-server at ${url} refused the connection (HTTP 401): the bearer token is missing ` +
        `or wrong`,
      { cause: err },
    );
  }
  if (err.status !== undefined) {
    return new ConnectError(
      "rejected",
      url,
      `exec-server at ${url} refused the websocket upgrade (HTTP ${err.status}); is this URL an ` +
        `exec-server?`,
      { cause: err },
    );
  }
  return new ConnectError(
    "unreachable",
    url,
    `cannot connect to exec-server at ${url}: ${err.detail}`,
    { cause: err },
  );
}

/**
 * Connects to `ws://` or `wss://` URLs (a local `serve`, or anything speaking the protocol).
 *
 * @example
 * ```ts
 * import { ExecServerClient, websocketConnector } from "./mod.ts";
 * const client = await ExecServerClient.connect(
 *   websocketConnector("ws://127.0.0.1:4000", { token: Deno.env.get("TOKEN") }),
 * );
 * await client.close();
 * ```
 */
export function websocketConnector(
  url: string,
  options: WebSocketConnectorOptions = {},
): Connector {
  const parsed = new URL(url);
  if (parsed.protocol !== "ws:" && parsed.protocol !== "wss:") {
    throw new TypeError(`expected a ws:// or wss:// URL, got \`${url}\``);
  }
  return {
    target: url,
    kind: "exec-server websocket",
    resumable: true,
    async open(openOptions: OpenOptions = {}) {
      const timeoutMs = openOptions.timeoutMs ?? options.connectTimeoutMs ??
        DEFAULT_CONNECT_TIMEOUT_MS;
      let socket: WebSocket;
      try {
        socket = await openWebSocket(url, { headers: upgradeHeaders(options), timeoutMs });
      } catch (err) {
        if (err instanceof WebSocketOpenError) throw classifyWebSocketFailure(url, err, timeoutMs);
        throw err;
      }
      return websocketTransport(socket, { label: `exec-server websocket ${url}` });
    },
  };
}

/**
 * Options of {@link stdioConnector}.
 *
 * @example
 * ```ts
 * const options: StdioConnectorOptions = { cwd: "/", stderr: "inherit" };
 * ```
 */
export interface StdioConnectorOptions {
  /** Extra environment for the command (added to ours). */
  env?: Record<string, string>;
  cwd?: string;
  /**
   * Where the command's stderr goes: `"inherit"` (our stderr) or `"tail"` (default: kept, the
   * last 8 KiB are quoted in errors when the server dies early).
   */
  stderr?: "inherit" | "tail";
}

/**
 * Spawns a server that speaks JSON lines on its stdio (e.g. `codex-exec-server serve --listen
 * stdio`, or `ssh host codex-exec-server serve --listen stdio`). The command runs in its own
 * process group; closing the transport sends SIGTERM to the group, then SIGKILL after 2 s.
 *
 * @example
 * ```ts
 * import { ExecServerClient, stdioConnector } from "./mod.ts";
 * const client = await ExecServerClient.connect(
 *   stdioConnector(["codex-exec-server", "serve", "--listen", "stdio"]),
 * );
 * await client.close();
 * ```
 */
export function stdioConnector(argv: string[], options: StdioConnectorOptions = {}): Connector {
  if (argv.length === 0) throw new TypeError("stdio command must not be empty");
  return {
    target: argv.join(" "),
    kind: "exec-server stdio",
    resumable: false,
    open() {
      return Promise.resolve(spawnStdioServer(argv, options));
    },
  };
}

/**
 * Options of {@link harnessConnector}.
 *
 * @example
 * ```ts
 * const options: HarnessConnectorOptions = { connectTimeoutMs: 5000 };
 * ```
 */
export interface HarnessConnectorOptions {
  /** Sent as `Authorization: Bearer <token>` on the rendezvous upgrade. */
  token?: string;
  headers?: Record<string, string>;
  /** Default 10 s. */
  connectTimeoutMs?: number;
}

/**
 * Reaches an executor through a rendezvous: the URL is a `role=harness` rendezvous websocket
 * URL; each `open()` starts a new relay stream over a new websocket.
 *
 * @example
 * ```ts
 * import { ExecServerClient, harnessConnector } from "./mod.ts";
 * const client = await ExecServerClient.connect(
 *   harnessConnector("ws://127.0.0.1:9000/relay?role=harness&executor_id=e1"),
 * );
 * await client.close();
 * ```
 */
export function harnessConnector(
  url: string,
  options: HarnessConnectorOptions = {},
): Connector {
  const target = url.split("?")[0];
  return {
    target,
    kind: "exec-server rendezvous",
    resumable: true,
    async open(openOptions: OpenOptions = {}) {
      const headers = upgradeHeaders(options);
      try {
        return await connectHarnessStream(url, {
          headers,
          connectTimeoutMs: openOptions.timeoutMs ?? options.connectTimeoutMs ??
            DEFAULT_CONNECT_TIMEOUT_MS,
        });
      } catch (err) {
        const detail = (err as Error).message;
        const cause = (err as Error).cause;
        if (cause instanceof WebSocketOpenError && cause.status === 401) {
          throw new ConnectError(
            "auth_refused",
            target,
            `rendezvous at ${target} refused the connection (HTTP 401): the token is missing ` +
              `or wrong`,
            { cause: err },
          );
        }
        throw new ConnectError("unreachable", target, detail, { cause: err });
      }
    },
  };
}

/**
 * Options of {@link registryConnector}.
 *
 * @example
 * ```ts
 * const options: RegistryConnectorOptions = {
 *   registry: "http://127.0.0.1:8080",
 *   executorId: "laptop",
 *   token: "s3cret",
 * };
 * ```
 */
export interface RegistryConnectorOptions {
  /** Registry base URL (`http(s)://`). */
  registry: string;
  executorId: string;
  /** Registry bearer token; never printed. */
  token: string;
  /** Default 10 s. */
  connectTimeoutMs?: number;
}

/**
 * Reaches a registered executor: asks the registry for a fresh, short-lived harness URL on
 * every `open()` (`POST /cloud/executor/<id>/connect`), then connects through the rendezvous.
 * Recovery attempts back off with jitter from 0.5 s to 5 s, as upstream's registry transports.
 *
 * @example
 * ```ts
 * import { ExecServerClient, registryConnector } from "./mod.ts";
 * const client = await ExecServerClient.connect(registryConnector({
 *   registry: "http://127.0.0.1:8080",
 *   executorId: "laptop",
 *   token: Deno.env.get("CODEX_EXEC_SERVER_REMOTE_BEARER_TOKEN") ?? "",
 * }));
 * await client.close();
 * ```
 */
export function registryConnector(options: RegistryConnectorOptions): Connector {
  const target = `${options.registry.replace(/\/+$/, "")} executor ${options.executorId}`;
  return {
    target,
    kind: "exec-server rendezvous",
    resumable: true,
    async open(openOptions: OpenOptions = {}) {
      const timeoutMs = openOptions.timeoutMs ?? options.connectTimeoutMs ??
        DEFAULT_CONNECT_TIMEOUT_MS;
      let url: string;
      try {
        url = await resolveHarnessUrl({
          registry: options.registry,
          executorId: options.executorId,
          token: options.token,
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (err) {
        const detail = (err as Error).message;
        const status = (err as { status?: number }).status;
        // 404: no such executor (or no registry at that path): retrying cannot help.
        const code = status === 401 || status === 403
          ? "auth_refused"
          : status === 404
          ? "rejected"
          : "unreachable";
        throw new ConnectError(code, target, `registry ${options.registry}: ${detail}`, {
          cause: err,
        });
      }
      return await harnessConnector(url, { connectTimeoutMs: timeoutMs }).open(openOptions);
    },
    recoveryDelayMs(attempt: number) {
      const base = Math.min(5_000, 500 * 2 ** attempt);
      return base / 2 + Math.random() * base / 2;
    },
  };
}
