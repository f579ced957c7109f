/**
 * `ExecServerClient`: one session with an exec-server over any connector, with transparent
 * recovery (reconnect + `resumeSessionId` + replay) for resumable transports (spec §5).
 * @module
 */
import { writeFileStream, type WriteFileStreamOptions } from "./file_write_stream.ts";
import { Method, Notification } from "../protocol/methods.ts";
import type { EnvironmentInfo } from "../protocol/environment.ts";
import type { DirectoryEntry, FileMetadata } from "../protocol/fs.ts";
import type { ExecEnvPolicy, OutputStream } from "../protocol/process.ts";

export type { DirectoryEntry, EnvironmentInfo, FileMetadata };
import { uriFromPath } from "../protocol/file_uri.ts";
import { decodeBase64, encodeBase64 } from "../util/base64.ts";
import { log } from "../util/log.ts";
import { canResend, replayProcess, retryWithin } from "./_recovery.ts";
import { RpcConnection } from "./_rpc.ts";
import type { StdioTransport } from "./_stdio_child.ts";
import { type Connector, harnessConnector, websocketConnector } from "./connector.ts";
import {
  ConnectError,
  DisconnectedError,
  FileTooLargeError,
  ProcessFailedError,
  RemoteCallError,
} from "./errors.ts";
import { ExecProcess, type ProcessHost } from "./process.ts";
import { readFileStream, type ReadFileStreamOptions } from "./file_stream.ts";

/**
 * Default `initialize` timeout (upstream: 10 s).
 *
 * @example
 * ```ts
 * declare const url: string;
 * await ExecServerClient.connect(url, { initializeTimeoutMs: 2 * DEFAULT_INITIALIZE_TIMEOUT_MS });
 * ```
 */
export const DEFAULT_INITIALIZE_TIMEOUT_MS = 10_000;
/**
 * Recovery budget, deliberately below the server's 30 s detach TTL (upstream: 25 s).
 *
 * @example
 * ```ts
 * declare const url: string;
 * await ExecServerClient.connect(url, { recoveryTimeoutMs: DEFAULT_RECOVERY_TIMEOUT_MS / 5 });
 * ```
 */
export const DEFAULT_RECOVERY_TIMEOUT_MS = 25_000;
/**
 * Pause between recovery attempts (upstream: 100 ms).
 *
 * @example
 * ```ts
 * declare const url: string;
 * await ExecServerClient.connect(url, { recoveryRetryMs: DEFAULT_RECOVERY_RETRY_MS * 5 });
 * ```
 */
export const DEFAULT_RECOVERY_RETRY_MS = 100;
/**
 * Largest file {@link ExecServerClient.writeFile} sends. The protocol has no streaming write
 * (`fs/writeBlock` is unspecified upstream), so the whole file travels base64-encoded in one
 * JSON-RPC message, and servers cap messages at 64 MiB: 48 MiB of data encodes to 64 MiB.
 *
 * @example
 * ```ts
 * import type { ExecServerClient } from "./client.ts";
 * declare const client: ExecServerClient;
 * declare const data: Uint8Array;
 * if (data.length <= MAX_WRITE_FILE_BYTES) await client.writeFile("/tmp/f", data);
 * ```
 */
export const MAX_WRITE_FILE_BYTES = 48 * 1024 * 1024 - 64 * 1024;

/** Websocket close code "going away": the server is shutting down (`serve` on SIGTERM). */
const SERVER_GOING_AWAY = 1001;

/**
 * Connection state reported to {@link ConnectOptions.onStateChange}.
 *
 * @example
 * ```ts
 * const onStateChange = (state: ClientState) => console.error(`connection ${state}`);
 * ```
 */
export type ClientState = "connected" | "recovering" | "closed";

/**
 * Options of {@link ExecServerClient.connect}.
 *
 * @example
 * ```ts
 * const options: ConnectOptions = { token: "s3cret", recoveryTimeoutMs: 10_000 };
 * ```
 */
export interface ConnectOptions {
  /** Sent in `initialize` (default `codex-exec-server-client`). */
  clientName?: string;
  /** Bearer token, used when `target` is a URL string. */
  token?: string;
  /** Default 10 s. */
  connectTimeoutMs?: number;
  /** Default 10 s. */
  initializeTimeoutMs?: number;
  /** Default 25 s. */
  recoveryTimeoutMs?: number;
  /** Default 100 ms. */
  recoveryRetryMs?: number;
  /** Re-attach an existing detached session instead of creating one. */
  resumeSessionId?: string;
  /** Told when the connection drops, recovers, or ends. */
  onStateChange?: (state: ClientState, detail: { elapsedMs?: number; error?: Error }) => void;
}

/**
 * Options of {@link ExecServerClient.start}.
 *
 * @example
 * ```ts
 * const options: StartOptions = { cwd: "/tmp", env: { LANG: "C" }, tty: true, rows: 50, cols: 120 };
 * ```
 */
export interface StartOptions {
  /** Client-chosen id (default a random UUID). */
  processId?: string;
  /** Absolute remote path or `file:` URI (default: the server's working directory). */
  cwd?: string;
  /** Child environment, added on top of `envPolicy`'s result. */
  env?: Record<string, string>;
  /** Build the environment from the server's own (spec §3.1.1); omitted = nothing inherited. */
  envPolicy?: ExecEnvPolicy;
  /** Run under a PTY. */
  tty?: boolean;
  /** Initial PTY size (needs capability `processResize`; default 24x80). */
  rows?: number;
  cols?: number;
  /** Keep stdin writable in pipe mode (default true when not `tty`). */
  pipeStdin?: boolean;
  arg0?: string;
}

/**
 * Timing of the last recovery, for diagnostics.
 *
 * @example
 * ```ts
 * import type { ExecServerClient } from "./client.ts";
 * declare const client: ExecServerClient;
 * const stats: RecoveryStats = client.recoveryStats;
 * console.log(stats.count, stats.lastMs);
 * ```
 */
export interface RecoveryStats {
  /** Completed recoveries on this client. */
  count: number;
  /** Milliseconds from noticing the drop to replay done, for the latest recovery. */
  lastMs: number | null;
}

/**
 * Turns a remote path into a `file:` URI; relative paths are refused since the server has no
 * notion of our working directory.
 *
 * @example
 * ```ts
 * remoteUri("/tmp/a b"); // "file:///tmp/a%20b"
 * ```
 */
export function remoteUri(path: string): string {
  if (/^file:/i.test(path)) return path;
  if (path.startsWith("/")) return uriFromPath(path);
  throw new TypeError(`remote path \`${path}\` must be absolute (or a file: URI)`);
}

function connectorFor(target: string | Connector, options: ConnectOptions): Connector {
  if (typeof target !== "string") return target;
  const connectOptions = { token: options.token, connectTimeoutMs: options.connectTimeoutMs };
  if (/[?&]role=harness(&|$)/.test(target)) return harnessConnector(target, connectOptions);
  return websocketConnector(target, connectOptions);
}

/**
 * A session with one exec-server. Calls made while the transport is down wait for recovery;
 * running processes keep their output complete and in order across a reconnect.
 *
 * @example
 * ```ts
 * import { ExecServerClient } from "./mod.ts";
 * await using client = await ExecServerClient.connect("ws://127.0.0.1:4000");
 * const proc = await client.start(["uname", "-a"]);
 * for await (const chunk of proc) await Deno.stdout.write(chunk.data);
 * Deno.exitCode = await proc.wait();
 * ```
 */
export class ExecServerClient implements ProcessHost, AsyncDisposable {
  readonly connector: Connector;
  #options: ConnectOptions;
  #sessionId = "";
  #info: EnvironmentInfo | undefined;
  #conn: RpcConnection | null = null;
  #recovery: Promise<void> | null = null;
  #failure: DisconnectedError | null = null;
  #closing = false;
  #processes = new Map<string, ExecProcess>();
  #stats: RecoveryStats = { count: 0, lastMs: null };
  #closeController = new AbortController();
  // Settled whenever the connection state (#conn, #recovery, #failure) changes, so a caller
  // that finds none usable waits for the change instead of polling.
  #changed = Promise.withResolvers<void>();

  private constructor(connector: Connector, options: ConnectOptions) {
    this.connector = connector;
    this.#options = options;
  }

  /**
   * Connects and completes the handshake (`initialize`, then `initialized`). `target` is a
   * `ws://`/`wss://` URL, a rendezvous URL with `role=harness`, or a {@link Connector}.
   *
   * @throws {ConnectError} unreachable, refused, or no handshake within the timeouts.
   */
  static async connect(
    target: string | Connector,
    options: ConnectOptions = {},
  ): Promise<ExecServerClient> {
    const client = new ExecServerClient(connectorFor(target, options), options);
    const { conn, result } = await client.#handshake(options.resumeSessionId, {});
    client.#conn = conn;
    client.#sessionId = result.sessionId;
    client.#info = result.environmentInfo;
    return client;
  }

  /** The session id (stable across recoveries). */
  get sessionId(): string {
    return this.#sessionId;
  }

  /** The server's `environmentInfo` from `initialize`, if it sent one. */
  get environmentInfo(): EnvironmentInfo | undefined {
    return this.#info;
  }

  /** Whether the server advertises a capability flag (absent = false). */
  hasCapability(name: string): boolean {
    return this.#info?.capabilities?.[name] === true;
  }

  /** Recovery counters. */
  get recoveryStats(): RecoveryStats {
    return { ...this.#stats };
  }

  async #handshake(
    resumeSessionId: string | undefined,
    limits: { timeoutMs?: number },
  ): Promise<
    { conn: RpcConnection; result: { sessionId: string; environmentInfo?: EnvironmentInfo } }
  > {
    const transport = await this.connector.open({
      timeoutMs: limits.timeoutMs !== undefined
        ? Math.min(limits.timeoutMs, this.#options.connectTimeoutMs ?? Infinity)
        : this.#options.connectTimeoutMs,
    });
    const conn = new RpcConnection(transport, {
      onNotification: (method, params) => this.#onNotification(method, params),
      onClose: (closed) => this.#onConnectionClosed(closed),
    });
    const initTimeout = Math.min(
      this.#options.initializeTimeoutMs ?? DEFAULT_INITIALIZE_TIMEOUT_MS,
      limits.timeoutMs ?? Infinity,
    );
    try {
      const result = await conn.request(Method.initialize, {
        clientName: this.#options.clientName ?? "codex-exec-server-client",
        ...(resumeSessionId ? { resumeSessionId } : {}),
      }, {
        timeoutMs: initTimeout,
        onTimeout: () =>
          new ConnectError(
            "timeout",
            this.connector.target,
            `timed out waiting for exec-server initialize handshake after ${initTimeout} ms ` +
              `(${this.connector.target})`,
          ),
      }) as { sessionId: string; environmentInfo?: EnvironmentInfo };
      if (resumeSessionId && result.sessionId !== resumeSessionId) {
        throw new ConnectError(
          "handshake_failed",
          this.connector.target,
          `server resumed session ${result.sessionId} instead of ${resumeSessionId}`,
        );
      }
      await conn.notify(Notification.initialized, {});
      return { conn, result };
    } catch (err) {
      conn.close();
      const tail = (transport as Partial<StdioTransport>).stderrTail?.();
      if (err instanceof DisconnectedError && tail !== undefined) {
        if ("reaped" in transport) await (transport as StdioTransport).reaped;
        throw new ConnectError(
          "handshake_failed",
          this.connector.target,
          `stdio command \`${this.connector.target}\` ended before answering initialize` +
            (tail.trim() ? `; its stderr ends with:\n${tail.trimEnd()}` : ""),
          { cause: err },
        );
      }
      throw err;
    }
  }

  #onNotification(method: string, params: unknown): void {
    const p = params as Record<string, unknown> | null;
    if (!p || typeof p.processId !== "string") return;
    const proc = this.#processes.get(p.processId);
    if (!proc) return;
    const seq = p.seq as number;
    try {
      switch (method) {
        case Notification.processOutput:
          proc.accept({
            kind: "output",
            seq,
            stream: p.stream as OutputStream,
            data: decodeBase64(p.chunk as string),
          });
          break;
        case Notification.processExited:
          proc.accept({ kind: "exited", seq, exitCode: p.exitCode as number });
          break;
        case Notification.processClosed:
          proc.accept({ kind: "closed", seq });
          break;
        default:
          log.debug(`ignoring notification ${method}`);
      }
    } catch (err) {
      log.warn(`bad ${method} notification: ${(err as Error).message}`);
    }
  }

  #onConnectionClosed(conn: RpcConnection): void {
    if (conn !== this.#conn) return;
    this.#conn = null;
    this.#stateChanged();
    // A recovery in progress notices by itself (its calls fail) and tries again.
    if (this.#closing || this.#recovery || this.#failure) return;
    const info = conn.transport.closeInfo;
    if (info?.code === SERVER_GOING_AWAY) {
      // It said it is shutting down: its sessions and processes are gone, resuming cannot work.
      const error = new DisconnectedError(
        "server_shutdown",
        `the exec-server at ${this.connector.target} is shutting down` +
          (info.reason ? ` (it said: ${info.reason})` : "") +
          "; its processes were stopped",
      );
      this.#options.onStateChange?.("closed", { error });
      this.#failAll(error);
      return;
    }
    if (!this.connector.resumable) {
      this.#failAll(
        new DisconnectedError(
          "transport_closed",
          `exec-server transport disconnected: ${conn.transport.label} closed`,
        ),
      );
      return;
    }
    this.#recovery = this.#recover();
  }

  #stateChanged(): void {
    this.#changed.resolve();
    this.#changed = Promise.withResolvers<void>();
  }

  async #recover(): Promise<void> {
    const budget = this.#options.recoveryTimeoutMs ?? DEFAULT_RECOVERY_TIMEOUT_MS;
    this.#options.onStateChange?.("recovering", {});
    const outcome = await retryWithin({
      budgetMs: budget,
      signal: this.#closeController.signal,
      retryDelayMs: (attempt) =>
        this.connector.recoveryDelayMs?.(attempt) ??
          this.#options.recoveryRetryMs ?? DEFAULT_RECOVERY_RETRY_MS,
      attempt: async (remainingMs) => {
        const { conn } = await this.#handshake(this.#sessionId, { timeoutMs: remainingMs });
        if (this.#closing) {
          conn.close();
          return "again"; // the aborted signal ends the loop
        }
        this.#conn = conn;
        await this.#replayAll(conn);
        return conn.isClosed ? "again" : "done";
      },
    });
    this.#recovery = null;
    this.#stateChanged();
    if (outcome.ok) {
      const { elapsedMs } = outcome;
      this.#stats = { count: this.#stats.count + 1, lastMs: elapsedMs };
      log.debug(`recovered session ${this.#sessionId} in ${elapsedMs.toFixed(0)} ms`);
      this.#options.onStateChange?.("connected", { elapsedMs });
      return;
    }
    const { lastError } = outcome;
    const reason = lastError instanceof Error ? lastError.message : "client closed";
    const error = new DisconnectedError(
      "recovery_failed",
      `exec-server transport disconnected: could not resume session ${this.#sessionId} at ` +
        `${this.connector.target} within ${budget} ms: ${reason}`,
      { cause: lastError },
    );
    this.#options.onStateChange?.("closed", { error });
    this.#failAll(error);
  }

  async #replayAll(conn: RpcConnection): Promise<void> {
    for (const proc of [...this.#processes.values()]) {
      if (proc.done || proc.starting) continue;
      await replayProcess(proc, {
        call: (method, params) => conn.request(method, params),
        forget: (id) => this.#processes.delete(id),
      });
    }
  }

  #failAll(error: DisconnectedError): void {
    this.#failure ??= error;
    for (const proc of this.#processes.values()) {
      proc.fail(new ProcessFailedError("disconnected", proc.id, error.message, { cause: error }));
    }
    this.#processes.clear();
    this.#conn?.close();
    this.#stateChanged();
  }

  async #connection(): Promise<RpcConnection> {
    for (;;) {
      if (this.#failure) throw this.#failure;
      if (this.#recovery) {
        await this.#recovery;
        continue;
      }
      if (this.#conn && !this.#conn.isClosed) return this.#conn;
      await this.#changed.promise;
    }
  }

  /**
   * Calls any method. Waits while recovering; a call cut by a disconnect is sent again on the
   * recovered connection (every method we send is safe to repeat: writes carry a `writeId`).
   *
   * @throws {RemoteCallError} the server answered an error.
   * @throws {DisconnectedError} the connection is gone for good.
   */
  call(method: string, params: unknown): Promise<unknown> {
    return this.#request(method, params);
  }

  /** Sends a request, again on the recovered connection whenever a drop cut it. */
  async #request(method: string, params: unknown, onResend?: () => void): Promise<unknown> {
    for (;;) {
      const conn = await this.#connection();
      try {
        return await conn.request(method, params);
      } catch (err) {
        const state = { resumable: this.connector.resumable, closing: this.#closing };
        if (!canResend(err, state)) throw err;
        onResend?.();
      }
    }
  }

  /**
   * Starts a process. Output may arrive before this resolves; nothing is lost.
   *
   * @example
   * ```ts
   * import type { ExecServerClient } from "./client.ts";
   * declare const client: ExecServerClient;
   * const proc = await client.start(["sh", "-c", "read x; echo got $x"], { pipeStdin: true });
   * await proc.write("hello\n");
   * await proc.closeStdin();
   * ```
   */
  async start(argv: string[], options: StartOptions = {}): Promise<ExecProcess> {
    const processId = options.processId ?? crypto.randomUUID();
    const tty = options.tty ?? false;
    const cwd = options.cwd
      ? remoteUri(options.cwd)
      : this.#info?.cwd ?? this.#info?.userHomeDir ?? uriFromPath("/");
    const params: Record<string, unknown> = {
      processId,
      argv,
      cwd,
      env: options.env ?? {},
      tty,
      pipeStdin: options.pipeStdin ?? !tty,
    };
    if (options.arg0 !== undefined) params.arg0 = options.arg0;
    if (options.envPolicy) params.envPolicy = options.envPolicy;
    if (tty && options.rows && options.cols) {
      params.rows = options.rows;
      params.cols = options.cols;
    }
    const proc = new ExecProcess(processId, { host: this, tty });
    // Registered first: output notifications can precede the start response.
    this.#processes.set(processId, proc);
    proc.closed.then(() => this.#processes.delete(processId), () => {});
    let resent = false;
    try {
      await this.#request(Method.processStart, params, () => resent = true);
    } catch (err) {
      if (resent && err instanceof RemoteCallError && /already exists/.test(err.message)) {
        // The first attempt reached the server before the link dropped; whatever it emitted
        // while we were away is fetched like after any recovery.
        proc.starting = false;
        await replayProcess(proc, {
          call: (m, p) => this.call(m, p),
          forget: (id) => this.#processes.delete(id),
        });
        return proc;
      }
      this.#processes.delete(processId);
      throw err;
    }
    proc.starting = false;
    return proc;
  }

  /** `environment/info`. */
  async info(): Promise<EnvironmentInfo> {
    return await this.call(Method.environmentInfo, {}) as EnvironmentInfo;
  }

  /** `environment/status` (a health check). */
  async status(): Promise<string> {
    return (await this.call(Method.environmentStatus, {}) as { status: string }).status;
  }

  /** `fs/getMetadata`. */
  async stat(path: string): Promise<FileMetadata> {
    return await this.call(Method.fsGetMetadata, { path: remoteUri(path) }) as FileMetadata;
  }

  /** `fs/readDirectory` (entries in the server's order). */
  async readDirectory(path: string): Promise<DirectoryEntry[]> {
    const result = await this.call(Method.fsReadDirectory, { path: remoteUri(path) }) as {
      entries: DirectoryEntry[];
    };
    return result.entries;
  }

  /** `fs/canonicalize`: the real path, as a `file:` URI. */
  async canonicalize(path: string): Promise<string> {
    return (await this.call(Method.fsCanonicalize, { path: remoteUri(path) }) as { path: string })
      .path;
  }

  /** `fs/readFile`: the whole file in one message (server limit 47.9 MiB); see {@link readFileStream}. */
  async readFile(path: string): Promise<Uint8Array> {
    const result = await this.call(Method.fsReadFile, { path: remoteUri(path) }) as {
      dataBase64: string;
    };
    return decodeBase64(result.dataBase64);
  }

  /**
   * `fs/writeFile` (create or truncate; parents must exist).
   *
   * @throws {FileTooLargeError} over {@link MAX_WRITE_FILE_BYTES}.
   */
  async writeFile(path: string, data: Uint8Array): Promise<void> {
    if (data.length > MAX_WRITE_FILE_BYTES) {
      throw new FileTooLargeError(data.length, MAX_WRITE_FILE_BYTES);
    }
    await this.call(Method.fsWriteFile, { path: remoteUri(path), dataBase64: encodeBase64(data) });
  }

  /** `fs/createDirectory` (recursive by default, like `mkdir -p`). */
  async createDirectory(path: string, options: { recursive?: boolean } = {}): Promise<void> {
    await this.call(Method.fsCreateDirectory, {
      path: remoteUri(path),
      recursive: options.recursive ?? true,
    });
  }

  /** `fs/remove` (defaults: recursive, force, as upstream). */
  async remove(
    path: string,
    options: { recursive?: boolean; force?: boolean } = {},
  ): Promise<void> {
    await this.call(Method.fsRemove, {
      path: remoteUri(path),
      recursive: options.recursive ?? true,
      force: options.force ?? true,
    });
  }

  /** `fs/copy` on the server. */
  async copy(from: string, to: string, options: { recursive?: boolean } = {}): Promise<void> {
    await this.call(Method.fsCopy, {
      sourcePath: remoteUri(from),
      destinationPath: remoteUri(to),
      recursive: options.recursive ?? false,
    });
  }

  /**
   * Streams a remote file in blocks (`fs/open` + `fs/readBlock`), a few blocks ahead, without
   * holding the file in memory. Survives a reconnect (the handle is reopened at the offset).
   *
   * @example
   * ```ts
   * import type { ExecServerClient } from "./client.ts";
   * declare const client: ExecServerClient;
   * const file = await Deno.open("copy.bin", { write: true, create: true });
   * await client.readFileStream("/var/log/big.log").pipeTo(file.writable);
   * ```
   */
  readFileStream(path: string, options: ReadFileStreamOptions = {}): ReadableStream<Uint8Array> {
    return readFileStream(this, remoteUri(path), options);
  }

  /**
   * Uploads a byte stream in blocks (`fs/open {mode: "replace"}` + `fs/writeBlock`, capability
   * `fileWriteStreaming`), with constant memory and no size limit. Resolves with the bytes written.
   *
   * @example
   * ```ts
   * import type { ExecServerClient } from "./client.ts";
   * declare const client: ExecServerClient;
   * if (client.hasCapability("fileWriteStreaming")) {
   *   await client.writeFileStream("/srv/big.iso", (await Deno.open("big.iso")).readable);
   * }
   * ```
   */
  writeFileStream(
    path: string,
    source: ReadableStream<Uint8Array>,
    options: WriteFileStreamOptions = {},
  ): Promise<number> {
    return writeFileStream(this, remoteUri(path), source, options);
  }

  /** Closes the connection (a stdio server is stopped: SIGTERM, 2 s, SIGKILL). */
  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    this.#closeController.abort();
    const conn = this.#conn;
    this.#failAll(new DisconnectedError("client_closed", "the exec-server client was closed"));
    if (conn) {
      conn.close();
      await conn.done;
      const transport = conn.transport as Partial<StdioTransport>;
      if (transport.reaped) await transport.reaped;
    }
    await this.#recovery;
    this.#options.onStateChange?.("closed", {});
  }

  /** Same as {@link close}. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
