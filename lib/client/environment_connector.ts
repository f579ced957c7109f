/**
 * Reaching an E5 Noise environment as Codex does: for every physical connection a fresh
 * `/connect` bundle (single-use authorization and URL), a new websocket and `stream_id`, and
 * a hybrid Noise IK handshake that pins the executor key the first bundle named. The harness
 * key lives as long as the connector, so a reconnect resumes the session
 * (`initialize {resumeSessionId}`, done by the client).
 * @module
 */
import {
  generateHybridKeyPair,
  type HybridKeyPair,
  type HybridPublicKey,
  sameHybridKey,
} from "../noise/mod.ts";
import { openNoiseHarnessStream } from "../relay/noise_harness.ts";
import { connectWsLink } from "../relay/ws_link.ts";
import {
  connectEnvironment,
  type ConnectionBundle,
  connectRetryable,
} from "../registry/environment_client.ts";
import { RegistryError } from "../registry/mod.ts";
import { delay } from "../util/async.ts";
import type { MessageTransport } from "../transport/types.ts";
import { type Connector, DEFAULT_CONNECT_TIMEOUT_MS, type OpenOptions } from "./connector.ts";
import { ConnectError } from "./errors.ts";

/**
 * The variable Codex reads the environment registry token from.
 * @example
 * ```ts
 * import { NOISE_AUTH_TOKEN_ENV } from "./environment_connector.ts";
 * Deno.env.get(NOISE_AUTH_TOKEN_ENV);
 * ```
 */
export const NOISE_AUTH_TOKEN_ENV = "CODEX_EXEC_SERVER_NOISE_AUTH_TOKEN";

/**
 * Options of {@linkcode environmentConnector}.
 * @example
 * ```ts
 * import type { EnvironmentConnectorOptions } from "./environment_connector.ts";
 * const options: EnvironmentConnectorOptions = { registry: "http://127.0.0.1:8080", environmentId: "env-1", token: "t" };
 * ```
 */
export interface EnvironmentConnectorOptions {
  /** Registry base URL (`http(s)://`). */
  registry: string;
  /** The environment id (`--environment-id`). */
  environmentId: string;
  /** Registry bearer token; never printed. */
  token: string;
  /** Sent as `chatgpt-account-id` when set. */
  accountId?: string;
  /** The harness identity; default a fresh key per connector. */
  harnessKey?: HybridKeyPair;
  /** Whole `open()` budget: bundle retries, websocket and handshake. Default 10 s. */
  connectTimeoutMs?: number;
}

/**
 * Reaches an environment registered with `remote --environment-id` (ours or upstream's
 * `codex exec-server --remote`) through an E5 registry.
 *
 * @example
 * ```ts
 * import { ExecServerClient } from "./mod.ts";
 * import { environmentConnector } from "./environment_connector.ts";
 * const client = await ExecServerClient.connect(environmentConnector({
 *   registry: "http://127.0.0.1:8080",
 *   environmentId: "env-1",
 *   token: Deno.env.get("CODEX_EXEC_SERVER_NOISE_AUTH_TOKEN") ?? "",
 * }));
 * await client.close();
 * ```
 */
export function environmentConnector(options: EnvironmentConnectorOptions): Connector {
  const target = `${options.registry.replace(/\/+$/, "")} environment ${options.environmentId}`;
  const harnessKey = options.harnessKey
    ? Promise.resolve(options.harnessKey)
    : generateHybridKeyPair();
  let pinned: HybridPublicKey | undefined;

  async function bundle(deadline: number): Promise<ConnectionBundle> {
    for (let attempt = 0;; attempt++) {
      try {
        return await connectEnvironment({
          registry: options.registry,
          environmentId: options.environmentId,
          harnessKey: (await harnessKey).public,
          token: options.token,
          accountId: options.accountId,
          signal: AbortSignal.timeout(Math.max(1, deadline - Date.now())),
        });
      } catch (err) {
        const retryable = err instanceof RegistryError && connectRetryable(err);
        const wait = Math.min(5000, 500 * 2 ** Math.min(attempt, 4));
        if (!retryable || Date.now() + wait >= deadline) {
          const status = (err as { status?: number }).status;
          const code = status === 401 || status === 403 ? "auth_refused" : "unreachable";
          const offline = err instanceof RegistryError &&
            err.registryCode === "environment_offline";
          throw new ConnectError(
            code,
            target,
            offline
              ? `environment ${options.environmentId} has no executor connected (registry ${options.registry}); start \`codex-exec-server remote --environment-id ${options.environmentId}\``
              : `registry ${options.registry}: ${(err as Error).message}`,
            { cause: err },
          );
        }
        await delay(wait);
      }
    }
  }

  return {
    target,
    kind: "exec-server Noise environment",
    resumable: true,
    async open(openOptions: OpenOptions = {}): Promise<MessageTransport> {
      const timeoutMs = openOptions.timeoutMs ?? options.connectTimeoutMs ??
        DEFAULT_CONNECT_TIMEOUT_MS;
      const deadline = Date.now() + timeoutMs;
      // A 401 on the upgrade means the bundle expired: one fresh bundle, as upstream.
      for (let refreshes = 0;; refreshes++) {
        const fresh = await bundle(deadline);
        if (pinned && !sameHybridKey(pinned, fresh.executorKey)) {
          throw new ConnectError(
            "handshake_failed",
            target,
            `the executor of environment ${options.environmentId} has a new key (it restarted); the session it held is gone`,
          );
        }
        const outcome = await connectWsLink(fresh.url, {
          connectTimeoutMs: Math.max(1, deadline - Date.now()),
        });
        if (outcome.kind === "refused" && outcome.status === 401 && refreshes === 0) continue;
        if (outcome.kind !== "open") {
          const detail = outcome.kind === "refused" ? `HTTP ${outcome.status}` : outcome.reason;
          throw new ConnectError(
            outcome.kind === "refused" && outcome.status === 401 ? "auth_refused" : "unreachable",
            target,
            `cannot open the rendezvous websocket ${fresh.url.split("?")[0]}: ${detail}`,
          );
        }
        try {
          const transport = await openNoiseHarnessStream(outcome.link, {
            bundle: fresh,
            harnessKey: await harnessKey,
            handshakeTimeoutMs: Math.max(1, deadline - Date.now()),
          });
          pinned ??= fresh.executorKey;
          return transport;
        } catch (err) {
          throw new ConnectError("handshake_failed", target, (err as Error).message, {
            cause: err,
          });
        }
      }
    },
    recoveryDelayMs(attempt: number) {
      const base = Math.min(5_000, 500 * 2 ** attempt);
      return base / 2 + Math.random() * base / 2;
    },
  };
}
