/**
 * The E5 executor loop of `remote --environment-id`: one static Noise key per process,
 * `register` it with the environment registry, hold a pinging websocket to the returned
 * rendezvous URL, answer harness handshakes (after `/validate`), serve each stream as a
 * JSON-RPC connection, and reconnect — to the same URL, registering again when the
 * rendezvous refuses the upgrade with a 4xx (spec e5_noise.md §2.11), or when nothing listens
 * at the URL's host any more (a dead cluster node: the registry URL leads to a live one).
 * @module
 */
import { generateHybridKeyPair, type HybridKeyPair } from "../noise/mod.ts";
import { NoiseExecutorMux, type NoiseRelayTransport } from "../relay/noise_executor.ts";
import { connectWsLink } from "../relay/ws_link.ts";
import type { MessageTransport } from "../transport/types.ts";
import { ServedSessions } from "./_served_sessions.ts";
import { backoffDelay, delay } from "../util/async.ts";
import type { BearerToken } from "../registry/mod.ts";
import {
  type EnvironmentRegistration,
  registerEnvironment,
  registrationRetryable,
  validateEnvironmentId,
  validateHarness,
} from "../registry/environment_client.ts";
import { normalizeBaseUrl, RegistryError } from "../registry/mod.ts";

/**
 * Options of {@linkcode EnvironmentExecutor}.
 * @example
 * ```ts
 * import type { EnvironmentExecutorOptions } from "./environment_executor.ts";
 * import { BearerToken } from "../registry/mod.ts";
 * const options: EnvironmentExecutorOptions = {
 *   registry: "http://127.0.0.1:8080",
 *   environmentId: "env-1",
 *   readToken: () => new BearerToken("t"),
 *   serve: async (transport) => transport.close(),
 * };
 * ```
 */
export interface EnvironmentExecutorOptions {
  /** Registry base URL (`--remote`). */
  registry: string;
  /** The environment id to register (`--environment-id`). */
  environmentId: string;
  /** The registration credential, also sent on every `/validate`. */
  readToken: () => BearerToken;
  /** Serves one harness session (e.g. `core.serve`). */
  serve: (transport: MessageTransport) => Promise<void>;
  /** The static key; default a fresh one (one per process, as upstream). */
  staticKey?: HybridKeyPair;
  /** First reconnect delay. Default 1 s. */
  initialBackoffMs?: number;
  /** Longest reconnect delay. Default 30 s. */
  maxBackoffMs?: number;
  /** Websocket Ping interval. Default 30 s. */
  pingIntervalMs?: number;
  /** Drop the websocket when a Ping is unanswered this long. Default 60 s. */
  pongTimeoutMs?: number;
  /** `/validate` deadline. Default 10 s. */
  validationTimeoutMs?: number;
  /** Log sinks (default: silent). */
  log?: { info(line: string): void; warn(line: string): void; debug(line: string): void };
}

/**
 * Counters of an {@linkcode EnvironmentExecutor}.
 * @example
 * ```ts
 * import type { EnvironmentExecutorStats } from "./environment_executor.ts";
 * const s: EnvironmentExecutorStats = { registrations: 1, connections: 1, streams: 0, rejected: 0 };
 * ```
 */
export interface EnvironmentExecutorStats {
  /** Successful registrations. */
  registrations: number;
  /** Rendezvous websockets opened. */
  connections: number;
  /** Streams that completed the handshake. */
  streams: number;
  /** Handshakes refused. */
  rejected: number;
}

/** Socket errors that mean nothing listens at the URL's host and port. */
const NOTHING_LISTENS =
  /connection refused|os error 111|ECONNREFUSED|no route to host|os error 113|EHOSTUNREACH/i;

const SILENT = { info() {}, warn() {}, debug() {} };

function requestId(): string {
  return `req_${crypto.getRandomValues(new Uint8Array(16)).toHex()}`;
}

/**
 * Runs the executor side of an E5 Noise environment.
 *
 * @example
 * ```ts
 * import { EnvironmentExecutor } from "./environment_executor.ts";
 * import { BearerToken } from "../registry/mod.ts";
 * import { createServerCore } from "../server/mod.ts";
 * const core = createServerCore();
 * const executor = new EnvironmentExecutor({
 *   registry: "http://127.0.0.1:8080",
 *   environmentId: "env-1",
 *   readToken: () => new BearerToken("t"),
 *   serve: (transport) => core.serve(transport),
 * });
 * Deno.addSignalListener("SIGTERM", () => executor.stop());
 * await executor.run(); // rejects with a RegistryError when registration fails for good
 * ```
 */
export class EnvironmentExecutor {
  /** Counters, updated as the executor runs. */
  readonly stats: EnvironmentExecutorStats = {
    registrations: 0,
    connections: 0,
    streams: 0,
    rejected: 0,
  };
  #options: EnvironmentExecutorOptions;
  #base: string;
  #stop = new AbortController();
  #mux: NoiseExecutorMux | undefined;
  #log: NonNullable<EnvironmentExecutorOptions["log"]>;
  #key: Promise<HybridKeyPair>;
  #sessions: ServedSessions;
  #registration: EnvironmentRegistration | undefined;

  /**
   * @param options registry, environment id, credential and the session server
   * @throws {RegistryError} code `invalid_argument` for a bad URL or environment id.
   */
  /** Validates the options; nothing starts before {@linkcode EnvironmentExecutor.run}. */
  constructor(options: EnvironmentExecutorOptions) {
    this.#options = options;
    this.#base = normalizeBaseUrl(options.registry);
    validateEnvironmentId(options.environmentId);
    this.#log = options.log ?? SILENT;
    this.#sessions = new ServedSessions(options.serve, this.#log);
    this.#key = options.staticKey ? Promise.resolve(options.staticKey) : generateHybridKeyPair();
  }

  /** The current registration, once registered. */
  get registration(): EnvironmentRegistration | undefined {
    return this.#registration;
  }

  /** Stops the loop: resets every stream and closes the websocket. `run()` then resolves. */
  stop(): void {
    if (this.#stop.signal.aborted) return;
    this.#stop.abort(new DOMException("remote executor stopped", "AbortError"));
    this.#mux?.close();
  }

  /** Resolves when every session served so far has ended. */
  async sessionsDone(): Promise<void> {
    await this.#sessions.settled();
  }

  /** Registers and serves until {@linkcode EnvironmentExecutor.stop}. */
  async run(): Promise<void> {
    const signal = this.#stop.signal;
    try {
      let registration = await this.#register();
      let freshRegistration = true;
      let failures = 0;
      while (!signal.aborted) {
        const outcome = await connectWsLink(registration.url, {
          headers: { "x-request-id": requestId() },
          label: `rendezvous ${registration.url.split("?")[0]}`,
          pingIntervalMs: this.#options.pingIntervalMs,
          pongTimeoutMs: this.#options.pongTimeoutMs,
          signal,
        });
        if (signal.aborted) {
          if (outcome.kind === "open") outcome.link.close();
          break;
        }
        const refusedByNode = outcome.kind === "failed" && NOTHING_LISTENS.test(outcome.reason);
        if (outcome.kind === "open") {
          failures = 0;
          freshRegistration = false;
          const reason = await this.#serve(outcome.link, registration);
          if (signal.aborted) break;
          this.#log.warn(`remote: lost the rendezvous connection (${reason}); reconnecting`);
        } else if (outcome.kind === "refused" && outcome.status >= 400 && outcome.status < 500) {
          this.#log.warn(
            `remote: the rendezvous refused the websocket (HTTP ${outcome.status}); registering again`,
          );
          registration = await this.#register();
          freshRegistration = true;
        } else if (refusedByNode) {
          // The node named in the URL is down (a cluster node died): dialling it again cannot
          // help; the registry URL (a load balancer in front of the nodes) leads to a live one.
          this.#log.warn(
            `remote: nothing listens at the rendezvous (${outcome.reason}); registering again`,
          );
          // A fresh URL refused at once is not fixed by registering again right away.
          if (freshRegistration) await delay(this.#backoff(failures++), signal);
          registration = await this.#register();
          freshRegistration = true;
          continue;
        } else {
          this.#log.warn(
            `remote: cannot reach the rendezvous: ${
              outcome.kind === "refused" ? `HTTP ${outcome.status}` : outcome.reason
            }`,
          );
        }
        await delay(this.#backoff(failures++), signal);
      }
    } catch (error) {
      if (!signal.aborted) throw error;
    }
  }

  #backoff(attempt: number): number {
    const base = backoffDelay(attempt, {
      initialMs: this.#options.initialBackoffMs ?? 1000,
      maxMs: this.#options.maxBackoffMs ?? 30_000,
    });
    // Jitter so many executors that lost one rendezvous do not return in lockstep.
    return Math.round(base * (0.75 + Math.random() * 0.5));
  }

  async #register(): Promise<EnvironmentRegistration> {
    const signal = this.#stop.signal;
    const key = await this.#key;
    let failures = 0;
    for (;;) {
      try {
        const registration = await registerEnvironment(this.#base, {
          environmentId: this.#options.environmentId,
          executorKey: key.public,
          token: this.#options.readToken(),
          signal,
        });
        this.stats.registrations++;
        this.#registration = registration;
        this.#log.info(
          `remote: registered environment ${registration.environmentId} with ${this.#base} (${registration.registrationId})`,
        );
        return registration;
      } catch (error) {
        if (!(error instanceof RegistryError) || !registrationRetryable(error)) throw error;
        const wait = this.#backoff(failures++);
        this.#log.warn(`remote: ${error.message}; retrying in ${wait} ms`);
        await delay(wait, signal);
      }
    }
  }

  async #serve(
    link: import("../relay/link.ts").RelayLink,
    registration: EnvironmentRegistration,
  ): Promise<string> {
    this.stats.connections++;
    const options = this.#options;
    const mux = new NoiseExecutorMux(link, {
      staticKey: await this.#key,
      environmentId: registration.environmentId,
      registrationId: registration.registrationId,
      validationTimeoutMs: options.validationTimeoutMs,
      validate: (request) =>
        validateHarness(this.#base, {
          environmentId: registration.environmentId,
          registrationId: registration.registrationId,
          harnessKey: request.harnessKey,
          authorization: request.authorization,
          streamId: request.streamId,
          token: options.readToken(),
          signal: request.signal,
        }),
      onStream: (transport: NoiseRelayTransport) => {
        this.stats.streams++;
        this.#sessions.start(transport, "Noise session");
      },
      log: (line) => {
        if (line.includes("reset stream")) this.stats.rejected = mux.stats.rejected;
        this.#log.warn(`remote: ${line}`);
      },
    });
    this.#mux = mux;
    if (this.#stop.signal.aborted) mux.close();
    this.#log.info(
      `remote: connected to the rendezvous as environment ${registration.environmentId}`,
    );
    const reason = await mux.lost;
    this.stats.rejected = mux.stats.rejected;
    return reason;
  }
}
