/**
 * The E5 environment registry contract (spec e5_noise.md §2.1, §2.3, §2.7), client side:
 * executor `register` and `validate`, harness `connect`. JSON over `POST`, bearer auth.
 * @module
 */
import {
  type HybridPublicKey,
  NoiseError,
  publicKeyFromJson,
  publicKeyToJson,
  SECURITY_PROFILE,
} from "../noise/mod.ts";
import { asBearerToken, type BearerToken } from "./bearer_token.ts";
import { RegistryError } from "./errors.ts";
import {
  checkWebsocketUrl,
  normalizeBaseUrl,
  registryPost,
  validatePathId,
} from "./registry_client.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Checks an environment id ({@linkcode validatePathId}).
 *
 * @throws {RegistryError} code `invalid_argument`.
 * @example
 * ```ts
 * import { validateEnvironmentId } from "./environment_client.ts";
 * validateEnvironmentId("env-1"); // "env-1"
 * ```
 */
export function validateEnvironmentId(id: string): string {
  return validatePathId("environment", id);
}

/**
 * A registration as the registry answered it.
 * @example
 * ```ts
 * import type { EnvironmentRegistration } from "./environment_client.ts";
 * const r: EnvironmentRegistration = { environmentId: "env-1", url: "ws://127.0.0.1:1/r?role=environment", registrationId: "reg-1" };
 * ```
 */
export interface EnvironmentRegistration {
  /** The environment id (equal to the requested one). */
  environmentId: string;
  /** The executor's rendezvous websocket URL. */
  url: string;
  /** `executor_registration_id`, bound into every Noise prologue. */
  registrationId: string;
}

/**
 * Options of {@linkcode registerEnvironment}.
 * @example
 * ```ts
 * import type { RegisterEnvironmentOptions } from "./environment_client.ts";
 * declare const key: import("../noise/mod.ts").HybridPublicKey;
 * const options: RegisterEnvironmentOptions = { environmentId: "env-1", executorKey: key, token: new (await import("./bearer_token.ts")).BearerToken("t") };
 * ```
 */
export interface RegisterEnvironmentOptions {
  /** The environment to register. */
  environmentId: string;
  /** The executor's static public key. */
  executorKey: HybridPublicKey;
  /** The registration credential. */
  token: BearerToken;
  /** Cancels the request. */
  signal?: AbortSignal;
}

function text(value: unknown): string {
  return typeof value === "string" ? value : "";
}

function checkRegistrationId(value: unknown, where: string): string {
  const id = text(value);
  if (id === "" || id.trim() !== id || new TextEncoder().encode(id).length > 256) {
    throw new RegistryError(
      "invalid_response",
      `${where} answered an invalid executor_registration_id`,
    );
  }
  return id;
}

function checkCommon(body: Record<string, unknown>, environmentId: string, where: string): void {
  if (body.environment_id !== environmentId) {
    throw new RegistryError(
      "invalid_response",
      `${where}: the registry returned a different environment id`,
    );
  }
  if (body.security_profile !== SECURITY_PROFILE) {
    throw new RegistryError(
      "invalid_response",
      `${where}: security_profile must be ${SECURITY_PROFILE}`,
    );
  }
}

function asObject(value: unknown, where: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new RegistryError("invalid_response", `${where} answered a body that is not an object`);
  }
  return value as Record<string, unknown>;
}

/**
 * `POST <base>/cloud/environment/<ID>/register` with the executor's public key, once.
 *
 * @throws {RegistryError}; `retryable` only for 503 `registration_conflict` and 502
 * `authentication_service_unavailable` (see {@linkcode registrationRetryable}).
 * @example
 * ```ts
 * import { registerEnvironment } from "./environment_client.ts";
 * import { BearerToken } from "./bearer_token.ts";
 * import { generateHybridKeyPair } from "../noise/mod.ts";
 * const key = await generateHybridKeyPair();
 * const registration = await registerEnvironment("http://127.0.0.1:8080", {
 *   environmentId: "env-1", executorKey: key.public, token: new BearerToken("t"),
 * });
 * ```
 */
export async function registerEnvironment(
  base: string,
  options: RegisterEnvironmentOptions,
): Promise<EnvironmentRegistration> {
  const environmentId = validateEnvironmentId(options.environmentId);
  const path = `/cloud/environment/${environmentId}/register`;
  const where = `registry POST ${base}${path}`;
  const body = asObject(
    await registryPost(base, path, {
      token: options.token,
      signal: options.signal,
      body: {
        security_profile: SECURITY_PROFILE,
        executor_public_key: publicKeyToJson(options.executorKey),
      },
    }),
    where,
  );
  checkCommon(body, environmentId, where);
  return {
    environmentId,
    url: checkWebsocketUrl(body.url, where),
    registrationId: checkRegistrationId(body.executor_registration_id, where),
  };
}

/**
 * Whether a registration error is worth retrying (upstream's rule: only a registration
 * conflict or an unavailable auth service; a timed-out write may have replaced a newer
 * registration, so everything else ends the executor).
 *
 * @example
 * ```ts
 * import { registrationRetryable } from "./environment_client.ts";
 * import { RegistryError } from "./errors.ts";
 * registrationRetryable(new RegistryError("http", "x", { status: 503, registryCode: "registration_conflict" })); // true
 * ```
 */
export function registrationRetryable(error: RegistryError): boolean {
  return (error.status === 503 && error.registryCode === "registration_conflict") ||
    (error.status === 502 && error.registryCode === "authentication_service_unavailable");
}

/**
 * Options of {@linkcode validateHarness}.
 * @example
 * ```ts
 * import type { ValidateHarnessOptions } from "./environment_client.ts";
 * declare const key: import("../noise/mod.ts").HybridPublicKey;
 * declare const token: import("./bearer_token.ts").BearerToken;
 * const options: ValidateHarnessOptions = { environmentId: "env-1", registrationId: "reg-1", harnessKey: key, authorization: "a", streamId: crypto.randomUUID(), token };
 * ```
 */
export interface ValidateHarnessOptions {
  /** The environment the executor serves. */
  environmentId: string;
  /** The current `executor_registration_id`. */
  registrationId: string;
  /** The harness's static key from message 1. */
  harnessKey: HybridPublicKey;
  /** The authorization from message 1. */
  authorization: string;
  /** The relay `stream_id` (sent as `x-codex-noise-stream-id` when a UUID). */
  streamId: string;
  /** The executor's registration credential. */
  token: BearerToken;
  /** Cancels the request (validation timeout). */
  signal?: AbortSignal;
}

/**
 * `POST <base>/cloud/environment/<ID>/validate`: true only for an explicit `{"valid": true}`.
 * Fails closed: any error body is not echoed (it might contain the authorization).
 *
 * @example
 * ```ts
 * import { validateHarness } from "./environment_client.ts";
 * declare const options: import("./environment_client.ts").ValidateHarnessOptions;
 * const valid = await validateHarness("http://127.0.0.1:8080", options);
 * ```
 */
export async function validateHarness(
  base: string,
  options: ValidateHarnessOptions,
): Promise<boolean> {
  const path = `/cloud/environment/${validateEnvironmentId(options.environmentId)}/validate`;
  const body = await registryPost(base, path, {
    token: options.token,
    signal: options.signal,
    headers: UUID.test(options.streamId) ? { "x-codex-noise-stream-id": options.streamId } : {},
    body: {
      executor_registration_id: options.registrationId,
      harness_public_key: publicKeyToJson(options.harnessKey),
      harness_key_authorization: options.authorization,
    },
  });
  return (body as { valid?: unknown } | null)?.valid === true;
}

/**
 * A harness connection bundle (single use: fetch one per physical connection).
 * @example
 * ```ts
 * import type { ConnectionBundle } from "./environment_client.ts";
 * declare const key: import("../noise/mod.ts").HybridPublicKey;
 * const b: ConnectionBundle = { environmentId: "e", url: "ws://h/r?role=harness", registrationId: "r", executorKey: key, authorization: "a" };
 * ```
 */
export interface ConnectionBundle {
  /** The environment id (equal to the requested one). */
  environmentId: string;
  /** The harness's rendezvous websocket URL (`role=harness`). */
  url: string;
  /** `executor_registration_id`, bound into the Noise prologue. */
  registrationId: string;
  /** The executor's static key, to pin. */
  executorKey: HybridPublicKey;
  /** Opaque `harness_key_authorization`. */
  authorization: string;
}

/**
 * Options of {@linkcode connectEnvironment}.
 * @example
 * ```ts
 * import type { ConnectEnvironmentOptions } from "./environment_client.ts";
 * declare const key: import("../noise/mod.ts").HybridPublicKey;
 * const options: ConnectEnvironmentOptions = { registry: "http://127.0.0.1:8080", environmentId: "env-1", harnessKey: key, token: "t" };
 * ```
 */
export interface ConnectEnvironmentOptions {
  /** Registry base URL. */
  registry: string;
  /** The environment to reach. */
  environmentId: string;
  /** The harness's static public key. */
  harnessKey: HybridPublicKey;
  /** `CODEX_EXEC_SERVER_NOISE_AUTH_TOKEN` (a string is wrapped so it stays out of errors). */
  token: string | BearerToken;
  /** Sent as `chatgpt-account-id` when set. */
  accountId?: string;
  /** Cancels the request. */
  signal?: AbortSignal;
}

/**
 * `POST <registry>/cloud/environment/<ID>/connect` with the harness key → the bundle.
 *
 * @throws {RegistryError} e.g. `http` with status 409 and `registryCode` `environment_offline`
 * while no executor is connected (retry later).
 * @example
 * ```ts
 * import { connectEnvironment } from "./environment_client.ts";
 * import { generateHybridKeyPair } from "../noise/mod.ts";
 * const harness = await generateHybridKeyPair();
 * const bundle = await connectEnvironment({
 *   registry: "http://127.0.0.1:8080", environmentId: "env-1", harnessKey: harness.public,
 *   token: Deno.env.get("CODEX_EXEC_SERVER_NOISE_AUTH_TOKEN") ?? "",
 * });
 * ```
 */
export async function connectEnvironment(
  options: ConnectEnvironmentOptions,
): Promise<ConnectionBundle> {
  const base = normalizeBaseUrl(options.registry);
  const environmentId = validateEnvironmentId(options.environmentId);
  const token = asBearerToken(options.token);
  const path = `/cloud/environment/${environmentId}/connect`;
  const where = `registry POST ${base}${path}`;
  const body = asObject(
    await registryPost(base, path, {
      token,
      signal: options.signal,
      headers: options.accountId ? { "chatgpt-account-id": options.accountId } : {},
      body: { harness_public_key: publicKeyToJson(options.harnessKey) },
    }),
    where,
  );
  checkCommon(body, environmentId, where);
  const authorization = text(body.harness_key_authorization);
  if (authorization.trim() === "") {
    throw new RegistryError("invalid_response", `${where} answered no harness_key_authorization`);
  }
  let executorKey: HybridPublicKey;
  try {
    executorKey = publicKeyFromJson(body.executor_public_key);
  } catch (error) {
    if (!(error instanceof NoiseError)) throw error;
    throw new RegistryError("invalid_response", `${where}: executor_public_key: ${error.message}`);
  }
  return {
    environmentId,
    url: checkWebsocketUrl(body.url, where),
    registrationId: checkRegistrationId(body.executor_registration_id, where),
    executorKey,
    authorization,
  };
}

/**
 * Whether a `/connect` failure is worth retrying: network errors, 5xx, 408, 429 and 409
 * `environment_offline` (the executor is reconnecting).
 *
 * @example
 * ```ts
 * import { connectRetryable } from "./environment_client.ts";
 * import { RegistryError } from "./errors.ts";
 * connectRetryable(new RegistryError("http", "x", { status: 409, registryCode: "environment_offline" })); // true
 * ```
 */
export function connectRetryable(error: RegistryError): boolean {
  return error.retryable || (error.status === 409 && error.registryCode === "environment_offline");
}
