/**
 * Joining a cluster: one NATS connection per node, shared by its store and its router.
 * @module
 */
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/nats-core";
import { KvRegistryStore } from "./kv_registry_store.ts";
import { FrameRouter, type FrameRouterOptions } from "./frame_router.ts";

/**
 * Options of {@linkcode joinCluster}.
 * @example
 * ```ts
 * import type { JoinClusterOptions } from "./join.ts";
 * const options: JoinClusterOptions = {
 *   servers: "nats://127.0.0.1:4222", nodeId: "n1", nodeUrl: "ws://127.0.0.1:9000",
 * };
 * ```
 */
export interface JoinClusterOptions {
  /** `nats://HOST:PORT` (comma-separated for several NATS servers). */
  servers: string;
  /** Subject- and key-safe: 1-64 ASCII letters, digits, `-`, `_`. */
  nodeId: string;
  /** This node's websocket base (`ws://HOST:PORT`), as other nodes hand it out. */
  nodeUrl: string;
  /** Lease TTL if this node creates the lease bucket. Default 15 s. */
  leaseTtlMs?: number;
  /** Give up connecting to NATS after this long. Default 10 s. */
  connectTimeoutMs?: number;
  router?: Partial<FrameRouterOptions>;
  log?: { info(line: string): void; warn(line: string): void; debug(line: string): void };
}

/**
 * A node's membership in a cluster.
 * @example
 * ```ts ignore
 * const cluster = await joinCluster({ servers: "nats://127.0.0.1:4222", nodeId: "n1", nodeUrl: "ws://127.0.0.1:9000" });
 * cluster.store.health().ready; // true
 * await cluster.close();
 * ```
 */
export interface RendezvousCluster {
  readonly nc: NatsConnection;
  readonly store: KvRegistryStore;
  readonly router: FrameRouter;
  /** Drops this node's leases and closes the NATS connection. */
  close(): Promise<void>;
}

/** Node ids end up in NATS subjects and KV keys. */
export const NODE_ID = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Connects to NATS, opens the shared KV state and starts this node's router.
 *
 * @throws {Error} when NATS is unreachable (within `connectTimeoutMs`) or JetStream is off.
 * @example
 * ```ts ignore
 * import { joinCluster } from "./join.ts";
 * const cluster = await joinCluster({
 *   servers: "nats://127.0.0.1:4222", nodeId: "n1", nodeUrl: "ws://127.0.0.1:9000",
 * });
 * await cluster.close();
 * ```
 */
export async function joinCluster(options: JoinClusterOptions): Promise<RendezvousCluster> {
  if (!NODE_ID.test(options.nodeId)) {
    throw new Error(
      `node id \`${options.nodeId}\` is invalid: use 1-64 letters, digits, '-' or '_'`,
    );
  }
  const log = options.log ?? { info() {}, warn() {}, debug() {} };
  const named = (sink: (line: string) => void) => (line: string) =>
    sink(line.replace(/^rendezvous:/, `rendezvous[${options.nodeId}]:`));
  const nc = await connect({
    servers: options.servers.split(",").map((s) => s.trim()).filter((s) => s !== ""),
    name: `codex-rendezvous-${options.nodeId}`,
    timeout: options.connectTimeoutMs ?? 10_000,
    // A NATS restart must not end the node: keep trying, and report it in /readyz meanwhile.
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
  });
  let store: KvRegistryStore;
  try {
    store = await KvRegistryStore.open(nc, {
      nodeId: options.nodeId,
      nodeUrl: options.nodeUrl,
      leaseTtlMs: options.leaseTtlMs,
      log: named(log.warn),
    });
  } catch (error) {
    await nc.close();
    throw new Error(
      `NATS at ${options.servers} has no usable JetStream KV (start nats-server with -js): ${
        (error as Error).message
      }`,
    );
  }
  const router = new FrameRouter(nc, store, {
    graceMs: 60_000,
    maxQueuedBytes: 32 * 1024 * 1024,
    highWaterBytes: 1024 * 1024,
    checkIntervalMs: Math.min(1000, store.leaseTtlMs / 3),
    maxRemoteSockets: 4096,
    log: named(log.warn),
    debug: named(log.debug),
    ...options.router,
  });
  return {
    nc,
    store,
    router,
    async close() {
      router.detach();
      await store.close();
      await nc.drain().catch(() => nc.close());
    },
  };
}
