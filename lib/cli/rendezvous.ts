/**
 * `rendezvous`: our self-hostable registry + rendezvous.
 * @module
 */
import { startRendezvous } from "../rendezvous/mod.ts";
import {
  type ClusterAuth,
  type ClusterTls,
  joinCluster,
  type RendezvousCluster,
} from "../rendezvous/cluster/mod.ts";
import { log } from "../util/log.ts";
import { envInteger, listenOrExplain, parseFlags, UsageError } from "./_args.ts";
import { isLoopbackHost } from "../util/loopback.ts";
import { parseListenUrl, readTokenFile } from "./_flag_files.ts";
import { maxConnectionsFlag, maxConnectionsUsage } from "./_max_connections_flag.ts";

/**
 * Help text of `rendezvous`.
 * @example
 * ```ts
 * console.log(RENDEZVOUS_USAGE);
 * ```
 */
export const RENDEZVOUS_USAGE = `Usage: codex-exec-server rendezvous [options]

Runs a registry + rendezvous: executors (\`remote\`) register and connect, clients (\`exec\`,
\`fs\`, Codex) reach them by executor id. Prints its base URL as the first stdout line.

Options:
  --listen http://IP:PORT   where to listen (default http://127.0.0.1:0)
  --token-file PATH         require "Authorization: Bearer <token>" on register/connect;
                            the token is the file's trimmed contents (required off loopback)
  --public-url URL          ws:// or wss:// base of issued websocket URLs (default: the
                            host the request came to)
  --url-ttl SECONDS         lifetime of issued websocket URLs (default 600)
  --grace SECONDS           how long harness sockets wait for a reconnecting executor
                            (default 60)
${maxConnectionsUsage(28)}

Cluster (any number of nodes sharing one NATS with JetStream; default: one node, in memory):
  --cluster nats://HOST:PORT  keep registrations and leases in NATS KV and forward frames
                            between nodes over NATS (comma-separate several NATS servers;
                            tls://HOST:PORT requires TLS)
  --cluster-token-file PATH NATS token (the file's trimmed contents)
  --cluster-user NAME       NATS user, with --cluster-password-file PATH
  --cluster-creds PATH      NATS .creds file (JWT + NKey seed, from nsc)
  --cluster-ca PATH         CA (PEM) of the NATS server's certificate; implies TLS
  --cluster-cert PATH       client certificate (PEM) for NATS, with --cluster-key PATH
  --node-id ID              this node's id, 1-64 letters, digits, '-', '_' (default: random)
  --public-url URL          required off loopback in a cluster: this node's own ws:// base,
                            which the other nodes hand out for its executors
  --harness-routing MODE    direct (default): connect names the executor's node, frames
                            stay on it; forward: connect names this node, which forwards
                            frames over NATS (for harnesses that reach only some nodes)
  --lease-ttl SECONDS       executor/node lease TTL when this node creates the bucket
                            (default 15): a dead node's executors move after about this long
  -h, --help                show this help
`;

const CLUSTER_LINK_FLAGS = [
  "cluster-token-file",
  "cluster-user",
  "cluster-password-file",
  "cluster-creds",
  "cluster-ca",
  "cluster-cert",
  "cluster-key",
] as const;

type ClusterLinkFlags = { [K in typeof CLUSTER_LINK_FLAGS[number]]?: string };

/** NATS credentials from files (one kind at most). */
async function clusterAuth(values: ClusterLinkFlags): Promise<ClusterAuth | undefined> {
  const kinds = [
    values["cluster-token-file"] !== undefined,
    values["cluster-user"] !== undefined || values["cluster-password-file"] !== undefined,
    values["cluster-creds"] !== undefined,
  ].filter(Boolean).length;
  if (kinds > 1) {
    throw new UsageError(
      "give one of --cluster-token-file, --cluster-user/--cluster-password-file, --cluster-creds",
    );
  }
  if (values["cluster-token-file"] !== undefined) {
    return { token: await readTokenFile("--cluster-token-file", values["cluster-token-file"]) };
  }
  if (values["cluster-user"] !== undefined || values["cluster-password-file"] !== undefined) {
    if (values["cluster-user"] === undefined || values["cluster-password-file"] === undefined) {
      throw new UsageError("--cluster-user and --cluster-password-file go together");
    }
    return {
      user: values["cluster-user"],
      password: await readTokenFile("--cluster-password-file", values["cluster-password-file"]),
    };
  }
  if (values["cluster-creds"] !== undefined) {
    try {
      return { creds: await Deno.readFile(values["cluster-creds"]) };
    } catch (error) {
      throw new UsageError(
        `cannot read --cluster-creds ${values["cluster-creds"]}: ${(error as Error).message}`,
      );
    }
  }
  return undefined;
}

/** TLS files for the NATS link; each must be readable now (a typo fails at start-up). */
function clusterTls(values: ClusterLinkFlags): ClusterTls | undefined {
  if ((values["cluster-cert"] === undefined) !== (values["cluster-key"] === undefined)) {
    throw new UsageError("--cluster-cert and --cluster-key go together");
  }
  const files = {
    caFile: values["cluster-ca"],
    certFile: values["cluster-cert"],
    keyFile: values["cluster-key"],
  };
  const given = Object.entries(files).filter(([, path]) => path !== undefined);
  if (given.length === 0) return undefined;
  for (const [, path] of given) {
    try {
      Deno.statSync(path!);
    } catch (error) {
      throw new UsageError(`cannot read ${path}: ${(error as Error).message}`);
    }
  }
  return Object.fromEntries(given) as ClusterTls;
}

function parseSeconds(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) {
    throw new UsageError(`${name} expects a positive number of seconds, got \`${value}\``);
  }
  return n;
}

/**
 * Runs `rendezvous` until SIGINT/SIGTERM; returns the exit code.
 *
 * @example
 * ```ts
 * await runRendezvous(["--listen", "http://127.0.0.1:0"]);
 * ```
 */
export async function runRendezvous(args: string[]): Promise<number> {
  const { values } = parseFlags({
    args,
    options: {
      listen: { type: "string", default: "http://127.0.0.1:0" },
      "token-file": { type: "string" },
      "public-url": { type: "string" },
      "url-ttl": { type: "string", default: "600" },
      grace: { type: "string", default: "60" },
      "max-connections": { type: "string" },
      cluster: { type: "string" },
      "node-id": { type: "string" },
      "harness-routing": { type: "string", default: "direct" },
      "lease-ttl": { type: "string", default: "15" },
      "cluster-token-file": { type: "string" },
      "cluster-user": { type: "string" },
      "cluster-password-file": { type: "string" },
      "cluster-creds": { type: "string" },
      "cluster-ca": { type: "string" },
      "cluster-cert": { type: "string" },
      "cluster-key": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    console.log(RENDEZVOUS_USAGE);
    return 0;
  }
  const listen = parseListenUrl(values.listen, { scheme: "http", expects: "http://IP:PORT" });
  let token: string | undefined;
  if (values["token-file"]) {
    token = await readTokenFile("--token-file", values["token-file"]);
  } else if (!isLoopbackHost(listen.hostname)) {
    throw new UsageError(
      `refusing to listen on ${listen.hostname} without --token-file: anyone who can reach it ` +
        `could register an executor or reach one`,
    );
  }
  const publicUrl = values["public-url"];
  if (publicUrl !== undefined && !/^wss?:\/\/[^/?#]+\/?$/.test(publicUrl)) {
    throw new UsageError(
      `--public-url expects ws://HOST[:PORT] or wss://..., got \`${publicUrl}\``,
    );
  }
  const routing = values["harness-routing"];
  if (routing !== "direct" && routing !== "forward") {
    throw new UsageError(`--harness-routing expects direct or forward, got \`${routing}\``);
  }
  const graceMs = parseSeconds("--grace", values.grace) * 1000;
  const leaseTtlMs = parseSeconds("--lease-ttl", values["lease-ttl"]) * 1000;
  let cluster: RendezvousCluster | undefined;
  let clusterListen = listen;
  if (values.cluster !== undefined) {
    if (!/^(nats|tls):\/\/[^/?#]+\/?(,\s*(nats|tls):\/\/[^/?#]+\/?)*$/.test(values.cluster)) {
      throw new UsageError(
        `--cluster expects nats://HOST:PORT or tls://HOST:PORT, got \`${values.cluster}\``,
      );
    }
    if (values.cluster.includes("@")) {
      // A secret in argv is visible to every local user (ps, /proc/*/cmdline).
      throw new UsageError(
        "--cluster must not carry credentials (user:password@): use --cluster-token-file, " +
          "--cluster-user with --cluster-password-file, or --cluster-creds",
      );
    }
    const auth = await clusterAuth(values);
    const tls = clusterTls(values);
    const nodeId = values["node-id"] ?? `node-${crypto.randomUUID().slice(0, 8)}`;
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(nodeId)) {
      throw new UsageError(`--node-id expects 1-64 letters, digits, '-' or '_', got \`${nodeId}\``);
    }
    if (publicUrl === undefined && !isLoopbackHost(listen.hostname)) {
      throw new UsageError(
        "--cluster needs --public-url off loopback: the other nodes hand out this node's URL",
      );
    }
    // The node's URL must be known before it joins, so bind first (port 0 picks one).
    if (listen.port === 0) clusterListen = { ...listen, port: freePort(listen.hostname) };
    const host = clusterListen.hostname.includes(":")
      ? `[${clusterListen.hostname}]`
      : clusterListen.hostname;
    try {
      cluster = await joinCluster({
        servers: values.cluster,
        nodeId,
        nodeUrl: (publicUrl ?? `ws://${host}:${clusterListen.port}`).replace(/\/+$/, ""),
        leaseTtlMs,
        router: { graceMs },
        auth,
        tls,
        log,
      });
    } catch (error) {
      throw new UsageError(
        `cannot join the cluster at ${values.cluster}: ${(error as Error).message}`,
      );
    }
    log.info(`rendezvous node ${nodeId} joined the cluster at ${values.cluster}`);
  } else if (
    values["node-id"] !== undefined || routing !== "direct" ||
    CLUSTER_LINK_FLAGS.some((flag) => values[flag] !== undefined)
  ) {
    throw new UsageError("--node-id, --harness-routing and --cluster-* need --cluster");
  }
  const server = await listenOrExplain(
    `${clusterListen.hostname}:${clusterListen.port}`,
    () =>
      startRendezvous({
        ...clusterListen,
        token,
        publicUrl,
        urlTtlSeconds: parseSeconds("--url-ttl", values["url-ttl"]),
        graceMs,
        pingIntervalSeconds: envInteger("CODEX_EXEC_SERVER_PING_INTERVAL_S"),
        httpDeadlineMs: envInteger("CODEX_EXEC_SERVER_HTTP_DEADLINE_MS"),
        maxConnections: maxConnectionsFlag(values["max-connections"]),
        store: cluster?.store,
        router: cluster?.router,
        harnessRouting: routing,
      }),
  );
  const stop = Promise.withResolvers<void>();
  const onSignal = () => stop.resolve();
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  const line = new TextEncoder().encode(server.url + "\n");
  for (let written = 0; written < line.length;) {
    written += await Deno.stdout.write(line.subarray(written));
  }
  log.info(
    `rendezvous${cluster ? ` node ${server.nodeId}` : ""} listening on ${server.url}${
      token ? " (bearer token required)" : ""
    }`,
  );
  await stop.promise;
  Deno.removeSignalListener("SIGINT", onSignal);
  Deno.removeSignalListener("SIGTERM", onSignal);
  log.info("rendezvous: shutting down");
  await server.shutdown();
  await cluster?.close();
  return 0;
}

function freePort(hostname: string): number {
  const listener = Deno.listen({ hostname, port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}
