/**
 * Cluster test infrastructure: `rendezvous --cluster` nodes as real child processes on one
 * real nats-server, and a failover TCP front (what a load balancer in front of the nodes
 * does: the first target that accepts gets the connection).
 * @module
 */
import { type Child, spawnChild } from "../remote/_chain.ts";

/** Free loopback TCP port. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** A rendezvous node process. */
export interface ClusterNode extends Child {
  nodeId: string;
  /** `http://127.0.0.1:PORT` */
  url: string;
  port: number;
}

/** Starts `rendezvous --cluster NATS --node-id ID` (token `token`) on a fixed or free port. */
export async function startNode(nats: string, nodeId: string, options: {
  token: string;
  port?: number;
  args?: string[];
  env?: Record<string, string>;
}): Promise<ClusterNode> {
  const tokenFile = await Deno.makeTempFile({ prefix: "cluster-token-" });
  await Deno.writeTextFile(tokenFile, options.token);
  const port = options.port ?? freePort();
  const child = await spawnChild([
    "rendezvous",
    "--cluster",
    nats,
    "--node-id",
    nodeId,
    "--listen",
    `http://127.0.0.1:${port}`,
    "--token-file",
    tokenFile,
    "--lease-ttl",
    "3",
    ...(options.args ?? []),
  ], { env: { CODEX_EXEC_SERVER_LOG: "debug", ...options.env }, waitFirstLine: true });
  return Object.assign(child, { nodeId, url: child.firstLine, port });
}

/** A TCP front on 127.0.0.1 that hands each connection to the first target that accepts. */
export interface FailoverFront extends AsyncDisposable {
  port: number;
  url: string;
  close(): Promise<void>;
}

/** Starts a {@linkcode FailoverFront} over `targets` (ports, in order of preference). */
export function startFailoverFront(targets: number[]): FailoverFront {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  const pumps = new Set<Promise<void>>();
  async function pipe(from: Deno.Conn, to: Deno.Conn) {
    try {
      await from.readable.pipeTo(to.writable, { preventClose: false });
    } catch {
      // reset
    }
    for (const c of [from, to]) {
      try {
        c.close();
      } catch {
        // closed
      }
      conns.delete(c);
    }
  }
  const accepting = (async () => {
    for await (const inbound of listener) {
      let outbound: Deno.Conn | undefined;
      for (const port of targets) {
        try {
          outbound = await Deno.connect({ hostname: "127.0.0.1", port });
          break;
        } catch {
          // down: next
        }
      }
      if (!outbound) {
        inbound.close();
        continue;
      }
      conns.add(inbound);
      conns.add(outbound);
      for (const p of [pipe(inbound, outbound), pipe(outbound, inbound)]) {
        pumps.add(p);
        p.finally(() => pumps.delete(p));
      }
    }
  })().catch(() => {});
  const port = (listener.addr as Deno.NetAddr).port;
  const close = async () => {
    try {
      listener.close();
    } catch {
      // closed
    }
    for (const c of [...conns]) {
      try {
        c.close();
      } catch {
        // closed
      }
    }
    await accepting;
    await Promise.allSettled([...pumps]);
  };
  return { port, url: `http://127.0.0.1:${port}`, close, [Symbol.asyncDispose]: close };
}

/** Polls `url` until it answers `status` (e.g. /readyz 200). */
export async function waitForStatus(url: string, status: number, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = await fetch(url).then(async (r) => {
      await r.body?.cancel();
      return r.status;
    }, () => 0);
    if (got === status) return;
    if (Date.now() > deadline) throw new Error(`${url} answered ${got}, wanted ${status}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Reads one Prometheus sample (`name{labels}`) from a node's /metrics. */
export async function metric(base: string, sample: string): Promise<number | undefined> {
  const text = await (await fetch(`${base}/metrics`)).text();
  for (const line of text.split("\n")) {
    if (line.startsWith(sample + " ")) return Number(line.slice(sample.length + 1));
  }
  return undefined;
}
