/**
 * The executor loop of `remote`: register with the registry, hold a websocket to the
 * rendezvous URL it returns, serve every relay stream on it as a JSON-RPC connection, and
 * reconnect (re-registering when the rendezvous refuses the old URL) until stopped.
 * @module
 */
import {
  ExecutorMux,
  type RelayLink,
  type RelayStreamOptions,
  websocketLink,
} from "../relay/mod.ts";
import { openWebSocket, WebSocketOpenError } from "../transport/open_websocket.ts";
import type { MessageTransport } from "../transport/types.ts";
import { ServedSessions } from "./_served_sessions.ts";
import { backoffDelay, delay } from "../util/async.ts";
import type { BearerToken } from "../registry/bearer_token.ts";
import { EXECUTOR_REPLACED_REASON } from "../relay/executor_replaced.ts";
import { EXECUTOR_SHUTDOWN_REASON } from "../relay/executor_shutdown.ts";
import { watchKeepalives } from "./_keepalive_watch.ts";
import { RegistryError } from "../registry/errors.ts";
import {
  idempotencyId,
  normalizeBaseUrl,
  registerExecutor,
  type Registration,
  validateExecutorId,
} from "../registry/registry_client.ts";

/**
 * Options of {@linkcode RemoteExecutor}.
 * @example
 * ```ts
 * import type { RemoteExecutorOptions } from "./remote_executor.ts";
 * import { BearerToken } from "../registry/bearer_token.ts";
 * const options: RemoteExecutorOptions = {
 *   registry: "http://127.0.0.1:8080",
 *   executorId: "laptop",
 *   readToken: () => new BearerToken("t"),
 *   serve: async (transport) => transport.close(),
 * };
 * ```
 */
export interface RemoteExecutorOptions {
  /** Registry base URL (`--remote`). */
  registry: string;
  /** The seed-era executor id (`--executor-id`). */
  executorId: string;
  /** Default `codex-exec-server`. */
  name?: string;
  /** Labels sent with the registration. */
  labels?: Record<string, string>;
  /** Metadata sent with the registration (version, os, arch). */
  metadata?: Record<string, unknown>;
  /** Called before every registration attempt, so a rotated token is picked up. */
  readToken: () => BearerToken;
  /**
   * Once the rendezvous has shown it sends keepalives, a connection silent for this many
   * keepalive intervals is dropped and re-established. Default 3.
   */
  keepaliveMisses?: number;
  /** Serves one harness session (e.g. `core.serve`). */
  serve: (transport: MessageTransport) => Promise<void>;
  /** First reconnect/retry delay. Default 1 s. */
  initialBackoffMs?: number;
  /** Longest reconnect/retry delay. Default 30 s. */
  maxBackoffMs?: number;
  /** Websocket open timeout. Default 10 s. */
  connectTimeoutMs?: number;
  /** Relay tunables (and `detachedTtlMs`: how long streams wait for a reconnect, default 60 s). */
  relay?: RelayStreamOptions & { detachedTtlMs?: number };
  /** Log sinks (default: silent). */
  log?: { info(line: string): void; warn(line: string): void; debug(line: string): void };
}

/**
 * Counters of a {@linkcode RemoteExecutor}.
 * @example
 * ```ts
 * import type { RemoteExecutorStats } from "./remote_executor.ts";
 * const s: RemoteExecutorStats = { registrations: 1, connections: 1, streams: 0 };
 * ```
 */
export interface RemoteExecutorStats {
  registrations: number;
  connections: number;
  streams: number;
}

type ConnectOutcome =
  | { kind: "open"; socket: WebSocket; link: RelayLink }
  /** HTTP 4xx, or no listener at all (`status` 0): the URL's node is not taking us. */
  | { kind: "refused"; status: number; why: string }
  | { kind: "failed"; reason: string };

/** Socket errors that mean nothing listens at the URL's host and port. */
const NOTHING_LISTENS =
  /connection refused|os error 111|ECONNREFUSED|no route to host|os error 113/i;

const SILENT = { info() {}, warn() {}, debug() {} };

/**
 * Runs the executor side of remote mode.
 *
 * @example
 * ```ts
 * import { RemoteExecutor } from "./remote_executor.ts";
 * import { tokenFromEnv } from "../registry/bearer_token.ts";
 * import { createServerCore } from "../server/mod.ts";
 * const core = createServerCore();
 * const executor = new RemoteExecutor({
 *   registry: "http://127.0.0.1:8080",
 *   executorId: "laptop",
 *   readToken: () => tokenFromEnv(),
 *   serve: (transport) => core.serve(transport),
 * });
 * Deno.addSignalListener("SIGTERM", () => executor.stop());
 * await executor.run(); // rejects with a RegistryError on fatal registry answers (401, 404...)
 * core.shutdown();
 * ```
 */
export class RemoteExecutor {
  readonly stats: RemoteExecutorStats = { registrations: 0, connections: 0, streams: 0 };
  #options: RemoteExecutorOptions;
  #base: string;
  #name: string;
  #idempotencyId: string;
  #stop = new AbortController();
  #mux: ExecutorMux | undefined;
  #log: NonNullable<RemoteExecutorOptions["log"]>;
  #lost: PromiseWithResolvers<string> | undefined;
  #socket: WebSocket | undefined;
  #sessions: ServedSessions;

  /**
   * @param options registry, identity, token source and the session server
   * @throws {RegistryError} code `invalid_argument` for a bad URL or executor id.
   */
  constructor(options: RemoteExecutorOptions) {
    this.#options = options;
    this.#base = normalizeBaseUrl(options.registry);
    validateExecutorId(options.executorId);
    this.#name = options.name ?? "codex-exec-server";
    this.#idempotencyId = idempotencyId({
      executorId: options.executorId,
      name: this.#name,
      registrationUuid: crypto.randomUUID(),
    });
    this.#log = options.log ?? SILENT;
    this.#sessions = new ServedSessions(options.serve, this.#log);
  }

  /** Stops the loop: resets every stream and closes the websocket. `run()` then resolves. */
  stop(): void {
    if (this.#stop.signal.aborted) return;
    this.#stop.abort(new DOMException("remote executor stopped", "AbortError"));
    // Tells every harness client the executor is going away, so it does not try to resume.
    this.#mux?.close(EXECUTOR_SHUTDOWN_REASON);
    this.#lost?.resolve("stopped");
  }

  /** Resolves when every session served so far has ended. */
  async sessionsDone(): Promise<void> {
    await this.#sessions.settled();
  }

  /**
   * Registers and serves until {@linkcode RemoteExecutor.stop}. Rejects with a
   * {@linkcode RegistryError} when the registry refuses for good (auth after one retry,
   * 4xx other than 408/429, an invalid answer).
   */
  async run(): Promise<void> {
    const signal = this.#stop.signal;
    try {
      let registration = await this.#register();
      let failures = 0;
      let freshRegistration = true;
      while (!signal.aborted) {
        const outcome = await this.#connect(registration.url);
        if (signal.aborted) break;
        if (outcome.kind === "open") {
          const failuresBefore = failures;
          failures = 0;
          freshRegistration = false;
          const reason = await this.#serveLink(outcome.socket, outcome.link);
          if (signal.aborted) break;
          if (reason.includes(EXECUTOR_REPLACED_REASON)) {
            // Another process registered the same executor id; taking the socket back at once
            // would make the two evict each other every second.
            failures = failuresBefore + 1;
            this.#log.warn(
              `remote: another executor connected as ${this.#options.executorId} and replaced this one; ` +
                `retrying with backoff (run one executor per id)`,
            );
          } else {
            this.#log.warn(`remote: lost the rendezvous connection (${reason}); reconnecting`);
          }
        } else if (outcome.kind === "refused") {
          this.#log.warn(
            `remote: the rendezvous refused the websocket (${outcome.why}); registering again`,
          );
          // A fresh URL refused at once is not fixed by registering again right away.
          if (freshRegistration) await delay(this.#backoff(failures++), signal);
          registration = await this.#register();
          freshRegistration = true;
          continue;
        } else {
          this.#log.warn(`remote: cannot reach the rendezvous: ${outcome.reason}`);
        }
        await delay(this.#backoff(failures++), signal);
      }
    } catch (error) {
      if (!signal.aborted) throw error;
    }
    await this.#socketClosed();
  }

  /** Lets the resets written by `stop()` reach the wire before the process may exit. */
  async #socketClosed(): Promise<void> {
    const socket = this.#socket;
    if (!socket || socket.readyState === WebSocket.CLOSED) return;
    const closed = new Promise<void>((resolve) => {
      socket.addEventListener("close", () => resolve(), { once: true });
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([closed, new Promise<void>((r) => timer = setTimeout(r, 2000))]);
    clearTimeout(timer);
  }

  #backoff(attempt: number): number {
    return backoffDelay(attempt, {
      initialMs: this.#options.initialBackoffMs ?? 1000,
      maxMs: this.#options.maxBackoffMs ?? 30_000,
    });
  }

  async #register(): Promise<Registration> {
    const signal = this.#stop.signal;
    let authFailures = 0;
    let failures = 0;
    for (;;) {
      const token = this.#options.readToken();
      try {
        const registration = await registerExecutor(this.#base, {
          executorId: this.#options.executorId,
          name: this.#name,
          labels: this.#options.labels ?? {},
          metadata: this.#options.metadata ?? {},
          idempotencyId: this.#idempotencyId,
          token,
          signal,
        });
        this.stats.registrations++;
        this.#log.info(
          `remote: registered executor ${this.#options.executorId} with ${this.#base}`,
        );
        return registration;
      } catch (error) {
        if (!(error instanceof RegistryError)) throw error;
        if (error.code === "auth" && authFailures++ === 0) {
          this.#log.warn(`remote: ${error.message}; re-reading the token and trying once more`);
          continue;
        }
        if (!error.retryable) throw error;
        const wait = this.#backoff(failures++);
        this.#log.warn(`remote: ${error.message}; retrying in ${wait} ms`);
        await delay(wait, signal);
      }
    }
  }

  async #connect(url: string): Promise<ConnectOutcome> {
    let link: RelayLink | undefined;
    try {
      const socket = await openWebSocket(url, {
        timeoutMs: this.#options.connectTimeoutMs ?? 10_000,
        signal: this.#stop.signal,
        // Wrapped at once: the link keeps frames that arrive before the mux attaches (the
        // rendezvous may write as soon as it accepts the socket).
        onSocket: (socket) => link = websocketLink(socket, `rendezvous ${url.split("?")[0]}`),
      });
      return { kind: "open", socket, link: link! };
    } catch (error) {
      link?.close();
      if (!(error instanceof WebSocketOpenError)) throw error;
      const status = error.status;
      if (status !== undefined && status >= 400 && status < 500) {
        return { kind: "refused", status, why: `HTTP ${status}` };
      }
      if (error.code === "unreachable" && NOTHING_LISTENS.test(error.detail)) {
        // The node named in the URL is down (a cluster node died): dialling it again cannot
        // help; the registry URL (a load balancer in front of the nodes) leads to a live one.
        return { kind: "refused", status: 0, why: error.detail };
      }
      return { kind: "failed", reason: error.detail };
    }
  }

  /**
   * Drops a connection silent for `keepaliveMisses` keepalive intervals even though no stream
   * noticed (an idle executor has no relay heartbeats).
   */
  #watchKeepalives(socket: WebSocket, link: RelayLink): () => void {
    return watchKeepalives(socket, {
      misses: this.#options.keepaliveMisses ?? 3,
      onDead: (silentMs, intervalMs) => {
        this.#log.warn(
          `remote: nothing from the rendezvous for ${Math.round(silentMs)} ms (keepalives every ~${
            Math.round(intervalMs)
          } ms); dropping the connection`,
        );
        link.close();
        this.#lost?.resolve(`no keepalive for ${Math.round(silentMs)} ms`);
      },
    });
  }

  /** Attaches the open socket to the mux; resolves with the reason once the link is lost. */
  #serveLink(socket: WebSocket, link: RelayLink): Promise<string> {
    this.stats.connections++;
    this.#socket = socket;
    const lost = Promise.withResolvers<string>();
    this.#lost = lost;
    const stopWatchdog = this.#watchKeepalives(socket, link);
    lost.promise.then(stopWatchdog);
    if (this.#mux) {
      this.#mux.replaceLink(link);
    } else {
      this.#mux = new ExecutorMux(link, {
        ...this.#options.relay,
        log: this.#options.relay?.log ?? ((line) => this.#log.warn(line)),
        onStream: (transport) => {
          this.stats.streams++;
          this.#sessions.start(transport);
        },
        onLinkLost: (reason) => this.#lost?.resolve(reason),
      });
    }
    this.#log.info(
      `remote: connected to the rendezvous (${this.#mux.streamCount} stream(s) resumed)`,
    );
    return lost.promise;
  }
}
