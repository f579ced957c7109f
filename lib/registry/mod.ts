/**
 * The registry HTTP contract shared by `remote` (registers), the client (resolves a harness URL)
 * and `rendezvous` (serves it): calls, id validation, URL resolution, bearer tokens and errors.
 *
 * @example
 * ```ts
 * import { resolveHarnessUrl } from "./mod.ts";
 * const url = await resolveHarnessUrl({
 *   registry: "http://127.0.0.1:8080",
 *   executorId: "laptop",
 *   token: Deno.env.get("CODEX_EXEC_SERVER_REMOTE_BEARER_TOKEN") ?? "",
 * });
 * ```
 * @module
 */
export { BearerToken, REMOTE_TOKEN_ENV, tokenFromEnv } from "./bearer_token.ts";
export { RegistryError, type RegistryErrorCode } from "./errors.ts";
export {
  idempotencyId,
  type IdempotencyOptions,
  normalizeBaseUrl,
  registerExecutor,
  type RegisterOptions,
  type Registration,
  registryPost,
  type RegistryPostOptions,
  REMOTE_PROTOCOL_VERSION,
  type ResolveHarnessOptions,
  resolveHarnessUrl,
  validateExecutorId,
} from "./registry_client.ts";
export {
  connectEnvironment,
  type ConnectEnvironmentOptions,
  type ConnectionBundle,
  connectRetryable,
  type EnvironmentRegistration,
  registerEnvironment,
  type RegisterEnvironmentOptions,
  registrationRetryable,
  validateEnvironmentId,
  validateHarness,
  type ValidateHarnessOptions,
} from "./environment_client.ts";
// The key types the environment contract carries, so its API is documented in one place.
export type { HybridKeyPair, HybridPublicKey } from "../noise/mod.ts";
