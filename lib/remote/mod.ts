/**
 * Remote mode (spec/relay.md §4, era E2): the registry client and the executor loop that
 * serves harness sessions over a rendezvous websocket.
 *
 * @example
 * ```ts
 * import { RemoteExecutor, tokenFromEnv } from "./mod.ts";
 * import { createServerCore } from "../server/mod.ts";
 * const core = createServerCore();
 * const executor = new RemoteExecutor({
 *   registry: "http://127.0.0.1:8080",
 *   executorId: "laptop",
 *   readToken: () => tokenFromEnv(),
 *   serve: (transport) => core.serve(transport),
 * });
 * await executor.run();
 * ```
 * @module
 */
export { BearerToken, REMOTE_TOKEN_ENV, tokenFromEnv } from "../registry/bearer_token.ts";
export { RegistryError, type RegistryErrorCode } from "../registry/errors.ts";
export { EXECUTOR_REPLACED_REASON } from "../relay/executor_replaced.ts";
export { isKeepalive, KEEPALIVE_FRAME, KEEPALIVE_STREAM_ID } from "../relay/keepalive.ts";
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
} from "../registry/registry_client.ts";
export {
  RemoteExecutor,
  type RemoteExecutorOptions,
  type RemoteExecutorStats,
} from "./remote_executor.ts";
