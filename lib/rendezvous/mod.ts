/**
 * Our self-hostable registry + rendezvous: executors register (`POST
 * /cloud/executor/<ID>/register`) and hold one websocket; harnesses ask for a URL (`POST
 * /cloud/executor/<ID>/connect`) and open one websocket per session; relay frames are routed
 * by `stream_id`, unchanged. {@linkcode resolveHarnessUrl} is the client side of `connect`.
 *
 * @example
 * ```ts
 * import { startRendezvous } from "./mod.ts";
 * import { resolveHarnessUrl } from "../registry/mod.ts";
 * const server = await startRendezvous({ hostname: "127.0.0.1", port: 0, token: "t" });
 * // ... once an executor "e1" is connected:
 * const url = await resolveHarnessUrl({ registry: server.url, executorId: "e1", token: "t" });
 * await server.shutdown();
 * ```
 * @module
 */
export {
  type RendezvousOptions,
  type RendezvousRouter,
  type RendezvousServer,
  startRendezvous,
} from "./server.ts";
export type { MetricFamily } from "./metrics.ts";
export type { QueueDepths } from "./_paced_socket.ts";
export { RENDEZVOUS_PATH, type RendezvousRole, type UrlClaims, UrlSigner } from "./url_signer.ts";
export { HARNESS_GONE_REASON, ORPHAN_STREAM_REASON, type RoutingStats } from "./_hub.ts";
export type { RegistrationKind, RegistryStore, StoreHealth } from "./cluster/registry_store.ts";
