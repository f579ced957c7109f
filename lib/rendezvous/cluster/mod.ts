/**
 * Cluster mode of the rendezvous (`rendezvous --cluster nats://HOST:PORT`): nodes share one
 * NATS (JetStream on): registry state in KV ({@linkcode KvRegistryStore}) and relay frames
 * between nodes over subjects ({@linkcode FrameRouter}). Without it a rendezvous is one node
 * with its state in memory ({@linkcode MemoryRegistryStore}).
 *
 * @example
 * ```ts ignore
 * import { joinCluster } from "./mod.ts";
 * import { startRendezvous } from "../server.ts";
 * const cluster = await joinCluster({
 *   servers: "nats://127.0.0.1:4222", nodeId: "n1", nodeUrl: "ws://127.0.0.1:9000",
 * });
 * const server = await startRendezvous({
 *   hostname: "127.0.0.1", port: 9000, store: cluster.store, router: cluster.router,
 * });
 * await server.shutdown();
 * await cluster.close();
 * ```
 * @module
 */
export {
  type ClusterAuth,
  type ClusterTls,
  joinCluster,
  type JoinClusterOptions,
  type RendezvousCluster,
} from "./join.ts";
export { KvRegistryStore, type KvStoreOptions } from "./kv_registry_store.ts";
export {
  MemoryRegistryStore,
  type RegistrationKind,
  type RegistryStore,
  type StoreHealth,
} from "./registry_store.ts";
export { FrameRouter, type FrameRouterOptions, type FrameRouterStats } from "./frame_router.ts";
