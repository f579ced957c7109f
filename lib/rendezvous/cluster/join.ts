/**
 * Joining a cluster: one NATS connection per node, shared by its store and its router.
 * @module
 */
import { isIP } from "node:net";
import { checkServerIdentity, type PeerCertificate } from "node:tls";
import {
  type Authenticator,
  credsAuthenticator,
  type NatsConnection,
  tokenAuthenticator,
  usernamePasswordAuthenticator,
} from "@nats-io/nats-core";
import { KvRegistryStore } from "./kv_registry_store.ts";
import { connectNats } from "./_nats_tcp_transport.ts";
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
  /** `nats://HOST:PORT` or `tls://HOST:PORT` (comma-separated for several NATS servers). */
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
  /** How this node proves itself to NATS (secrets come from files, never the command line). */
  auth?: ClusterAuth;
  /** TLS to NATS: required for `tls://` servers or when any file is given. */
  tls?: ClusterTls;
  log?: { info(line: string): void; warn(line: string): void; debug(line: string): void };
}

/**
 * NATS credentials of a node: at most one of a token, a user and password, or a `.creds` file
 * (JWT + NKey seed, as `nsc` writes them).
 * @example
 * ```ts
 * import type { ClusterAuth } from "./join.ts";
 * const auth: ClusterAuth = { user: "rdv", password: await Deno.readTextFile("/run/secrets/nats") };
 * ```
 */
export interface ClusterAuth {
  token?: string;
  user?: string;
  password?: string;
  /** Contents of a NATS `.creds` file. */
  creds?: Uint8Array;
}

/**
 * TLS settings of the NATS link (files in PEM).
 * @example
 * ```ts
 * import type { ClusterTls } from "./join.ts";
 * const tls: ClusterTls = { caFile: "/etc/nats/ca.pem" };
 * ```
 */
export interface ClusterTls {
  /** CA that signed the NATS server's certificate (default: the system's roots). */
  caFile?: string;
  /** Client certificate and key, for NATS servers that verify clients. */
  certFile?: string;
  keyFile?: string;
}

/**
 * The NATS client sends no server name for an IP address, and Deno's TLS then checks the
 * certificate against `localhost`: check it against the IP literals of the server list
 * instead (the host names keep the default check).
 */
function ipIdentityCheck(servers: string[]) {
  const ips = servers.map((s) =>
    new URL(s.replace(/^tls:/, "nats:")).hostname.replace(/^\[|\]$/g, "")
  )
    .filter((host) => isIP(host) !== 0);
  if (ips.length === 0) return {};
  return {
    checkServerIdentity(host: string, cert: PeerCertificate): Error | undefined {
      const byName = checkServerIdentity(host, cert);
      if (byName === undefined) return undefined;
      return ips.some((ip) => checkServerIdentity(ip, cert) === undefined) ? undefined : byName;
    },
  };
}

function authenticator(auth: ClusterAuth | undefined): Authenticator | undefined {
  if (!auth) return undefined;
  if (auth.creds) return credsAuthenticator(auth.creds);
  if (auth.token !== undefined) return tokenAuthenticator(auth.token);
  if (auth.user !== undefined) return usernamePasswordAuthenticator(auth.user, auth.password);
  return undefined;
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
  const servers = options.servers.split(",").map((s) => s.trim()).filter((s) => s !== "");
  const wantsTls = options.tls !== undefined || servers.some((s) => s.startsWith("tls://"));
  const auth = authenticator(options.auth);
  const nc = await connectNats({
    servers,
    ...(auth ? { authenticator: auth } : {}),
    // `tls://` (or a CA/cert) makes TLS required: the client refuses a server without it.
    ...(wantsTls ? { tls: { ...ipIdentityCheck(servers), ...options.tls } } : {}),
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
