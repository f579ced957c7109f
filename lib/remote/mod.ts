/**
 * Remote mode (spec/relay.md §4, era E2): the registry client and the executor loop that
 * serves harness sessions over a rendezvous websocket.
 *
 * @example
 * ```ts
 * import { RemoteExecutor } from "./mod.ts";
 * import { tokenFromEnv } from "../registry/mod.ts";
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
// The registry contract (tokens, register/connect calls) lives in lib/registry; import it there.
export {
  RemoteExecutor,
  type RemoteExecutorOptions,
  type RemoteExecutorStats,
} from "./remote_executor.ts";
export {
  EnvironmentExecutor,
  type EnvironmentExecutorOptions,
  type EnvironmentExecutorStats,
} from "./environment_executor.ts";
export type { EnvironmentRegistration } from "../registry/mod.ts";
// Types the executor options reference, re-exported so the API documents them.
export type { BearerToken, HybridKeyPair, HybridPublicKey } from "../registry/mod.ts";
export type { Inbound, MessageTransport } from "../transport/types.ts";
