/**
 * Benchmark lines of cluster mode (`rendezvous --cluster` on a real `nats-server -js`):
 * relay throughput and RPC latency through a cross-node path (harness on node B, executor on
 * node A, frames over NATS) vs the same executor reached on its own node, in one run; and
 * `connect` latency with 1,000 executors online, cluster (KV lookups) vs one in-memory node.
 * @module
 */
import type { RpcClient } from "./_bench_rpc.ts";
import { startServerProcess } from "./_server_process.ts";
import { alternateRounds, type BenchContext, guarded, since, size } from "./_bench_context.ts";
import { outputThroughput } from "./_bench_line_process.ts";
import { rpcSamples } from "./_bench_line_rpc.ts";
import { ourRunFlags } from "./_bench_servers.ts";
import { type LineResult, makeLine, type Samples } from "./_bench_stats.ts";
import { RELAY_EXECUTOR_ID, RELAY_TOKEN, relayClient } from "./_bench_line_relay.ts";
import { natsServerPath, startNats } from "./_nats_server.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const NO_NATS = { skipped: "nats-server is not installed (apt-get install nats-server)" };

function rendezvousArgs(extra: string[]): string[] {
  return [Deno.execPath(), "run", ...ourRunFlags(), `${ROOT}main.ts`, "rendezvous", ...extra];
}

/** Nodes A (direct) and B (forward) on one NATS, a `remote` executor on A. */
async function startCluster(): Promise<{ a: string; b: string; stop(): Promise<void> }> {
  const stops: (() => Promise<void>)[] = [];
  try {
    const nats = await startNats();
    stops.push(nats.stop);
    const env = { CODEX_EXEC_SERVER_LOG: "warn" };
    const a = await startServerProcess(
      rendezvousArgs(["--cluster", nats.url, "--node-id", "A"]),
      { env },
    );
    stops.push(a.stop);
    const b = await startServerProcess(
      rendezvousArgs(["--cluster", nats.url, "--node-id", "B", "--harness-routing", "forward"]),
      { env },
    );
    stops.push(b.stop);
    const remote = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        ...ourRunFlags(),
        `${ROOT}main.ts`,
        "remote",
        "--remote",
        a.url,
        "--executor-id",
        RELAY_EXECUTOR_ID,
      ],
      env: { CODEX_EXEC_SERVER_REMOTE_BEARER_TOKEN: RELAY_TOKEN, CODEX_EXEC_SERVER_LOG: "info" },
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    stops.push(async () => {
      try {
        remote.kill("SIGTERM");
      } catch { /* exited */ }
      await remote.status;
    });
    const reader = remote.stderr.pipeThrough(new TextDecoderStream()).getReader();
    let log = "";
    const deadline = Date.now() + 30_000;
    while (!log.includes("connected to the rendezvous")) {
      const { value, done } = await reader.read();
      if (done || Date.now() > deadline) throw new Error(`remote did not connect:\n${log}`);
      log += value;
    }
    (async () => {
      for (;;) if ((await reader.read()).done) break;
    })().catch(() => {});
    return {
      a: a.url,
      b: b.url,
      async stop() {
        for (const stop of stops.reverse()) await stop();
      },
    };
  } catch (error) {
    for (const stop of stops.reverse()) await stop();
    throw error;
  }
}

/**
 * Runs `measure` through node B (cross-node) and node A (the executor's own) of one cluster,
 * `rounds` times each, alternating, so load drift hits both columns alike.
 */
async function crossVsLocal(
  ctx: BenchContext,
  rounds: number,
  measure: (connect: () => Promise<RpcClient>) => Promise<number[]>,
): Promise<{ cross: Samples; local: Samples }> {
  if (!natsServerPath()) return { cross: NO_NATS, local: NO_NATS };
  const cluster = await startCluster();
  try {
    const registries = { cross: cluster.b, local: cluster.a };
    return await alternateRounds(
      ctx,
      { cross: [], local: [] },
      rounds,
      (column) => measure(() => relayClient(registries[column])),
    );
  } finally {
    await cluster.stop();
  }
}

const NO_UPSTREAM = { skipped: "upstream has no self-hostable rendezvous, let alone a cluster" };

/**
 * Relay output throughput with the harness on node B (frames forwarded over NATS to the
 * executor's node A) vs the harness on node A, in one run.
 *
 * @example
 * ```ts
 * const line = await clusterThroughputLine(ctx);
 * ```
 */
export async function clusterThroughputLine(ctx: BenchContext): Promise<LineResult> {
  const bytes = size(ctx, 16, 64) * 1048576;
  const reps = size(ctx, 1, 3);
  const { cross, local } = await crossVsLocal(
    ctx,
    reps,
    (connect) => outputThroughput(connect, { bytes, reps: 1, cwd: ctx.tmp }),
  );
  return makeLine({
    id: "cluster_relay_throughput",
    title: `relay stream output ${bytes / 1048576}M, harness on node B, executor on node A`,
    unit: "MiB/s",
    better: "higher",
    us: cross,
    floor: local,
    floorLabel: "the same stream with the harness on the executor's node (direct routing)",
    upstream: NO_UPSTREAM,
    targets: [{ ratio: "floor", op: ">=", value: 0.5 }],
    note: "frames cross nodes over NATS core subjects (nats-server on loopback)",
  });
}

/**
 * RPC round trip with the harness on node B vs on the executor's node A, in one run.
 *
 * @example
 * ```ts
 * const line = await clusterRpcLine(ctx);
 * ```
 */
export async function clusterRpcLine(ctx: BenchContext): Promise<LineResult> {
  const n = size(ctx, 300, 2000);
  const rounds = 4;
  const { cross, local } = await crossVsLocal(
    ctx,
    rounds,
    (connect) => rpcSamples(connect, { n: n / rounds, initialize: true }),
  );
  return makeLine({
    id: "cluster_rpc_round_trip",
    title: "RPC round trip (environment/status), harness on node B, executor on node A",
    unit: "ms",
    better: "lower",
    us: cross,
    floor: local,
    floorLabel: "the same round trip with the harness on the executor's node",
    upstream: NO_UPSTREAM,
    targets: [{ ratio: "floor", op: "<=", value: 2 }],
  });
}

/**
 * Opens `count` executor websockets, registered round-robin through `bases` (a node takes at
 * most 512 connections: the listener's bound); returns a closer.
 */
async function onlineExecutors(bases: string[], count: number): Promise<() => void> {
  const sockets: WebSocket[] = [];
  for (let i = 0; i < count; i += 50) {
    await Promise.all(
      Array.from({ length: Math.min(50, count - i) }, async (_, k) => {
        const id = `bench-e${i + k}`;
        const base = bases[(i + k) % bases.length];
        const response = await fetch(`${base}/cloud/executor/${id}/register`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ name: id }),
        });
        const { url } = await response.json();
        const socket = new WebSocket(url);
        sockets.push(socket);
        await new Promise((resolve, reject) => {
          socket.onopen = resolve;
          socket.onerror = reject;
        });
      }),
    );
  }
  // The node records the lease right after the socket opens.
  await new Promise((r) => setTimeout(r, 500));
  return () => sockets.forEach((s) => s.close());
}

async function connectSamples(registry: string, count: number, n: number): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const id = `bench-e${(i * 7919) % count}`;
    const t0 = performance.now();
    const response = await fetch(`${registry}/cloud/executor/${id}/connect`, { method: "POST" });
    const body = await response.json();
    samples.push(since(t0));
    if (response.status !== 200) throw new Error(`connect ${id}: ${JSON.stringify(body)}`);
  }
  return samples;
}

/**
 * `POST /connect` latency with 1,000 executors online: asked on node B of a cluster (the
 * executors' sockets are on node A) vs one in-memory node.
 *
 * @example
 * ```ts
 * const line = await clusterConnectLine(ctx);
 * ```
 */
export async function clusterConnectLine(ctx: BenchContext): Promise<LineResult> {
  const count = 1000;
  const n = size(ctx, 200, 2000);
  // One node accepts 512 connections (HTTP_LIMITS.maxConnections): the one-node floor holds
  // 500 executors, the cluster 1,000 over three nodes (an in-memory lookup does not depend on
  // the count; the KV lookups are what is measured).
  const single = 500;
  let us: Samples = NO_NATS;
  if (natsServerPath()) {
    us = await guarded(ctx, "cluster connect", async () => {
      await using nats = await startNats();
      const env = { CODEX_EXEC_SERVER_LOG: "warn" };
      await using a = await startServerProcess(
        rendezvousArgs(["--cluster", nats.url, "--node-id", "A"]),
        { env },
      );
      await using b = await startServerProcess(
        rendezvousArgs(["--cluster", nats.url, "--node-id", "B"]),
        { env },
      );
      await using c = await startServerProcess(
        rendezvousArgs(["--cluster", nats.url, "--node-id", "C"]),
        { env },
      );
      await using d = await startServerProcess(
        rendezvousArgs(["--cluster", nats.url, "--node-id", "D"]),
        { env },
      );
      const close = await onlineExecutors([a.url, c.url, d.url], count);
      try {
        return await connectSamples(b.url, count, n);
      } finally {
        close();
      }
    });
  }
  const floor = await guarded(ctx, "one-node connect", async () => {
    await using one = await startServerProcess(rendezvousArgs([]), {
      env: { CODEX_EXEC_SERVER_LOG: "warn" },
    });
    const close = await onlineExecutors([one.url], single);
    try {
      return await connectSamples(one.url, single, n);
    } finally {
      close();
    }
  });
  return makeLine({
    id: "cluster_connect_1000",
    title: "registry connect with 1,000 executors online (asked on another node than theirs)",
    unit: "ms",
    better: "lower",
    us,
    floor,
    floorLabel: "the same connect on one in-memory node (500 executors: its connection bound)",
    upstream: { skipped: "upstream has no self-hostable registry" },
    targets: [{ ratio: "absolute", op: "<=", value: 10 }],
    note: "1,000 executors on nodes A, C, D; connect asked on node B: KV reads of the " +
      "registration, the lease and the holder's URL",
  });
}

/** Medians of one E5 registry round: register, connect, validate (ms each). */
interface E5RegistrySamples {
  register: number[];
  connect: number[];
  validate: number[];
}

/**
 * `n` rounds of the E5 registry calls a harness handshake costs: `connect` on `connectAt`,
 * the executor's `validate` on `validateAt`; plus `register` on `validateAt` (the
 * environment's socket stays attached there).
 */
async function e5RegistrySamples(
  connectAt: string,
  validateAt: string,
  n: number,
): Promise<E5RegistrySamples> {
  const { generateHybridKeyPair, publicKeyToJson } = await import("../lib/noise/mod.ts");
  const executorKey = publicKeyToJson((await generateHybridKeyPair()).public);
  const harnessKey = publicKeyToJson((await generateHybridKeyPair()).public);
  const post = async (base: string, path: string, body: unknown) => {
    const response = await fetch(`${base}/cloud/environment/bench-env/${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    const json = await response.json();
    if (response.status !== 200) throw new Error(`${path}: ${JSON.stringify(json)}`);
    return json;
  };
  const register = () =>
    post(validateAt, "register", {
      security_profile: "noise_hybrid_ik_v1",
      executor_public_key: executorKey,
    });
  const samples: E5RegistrySamples = { register: [], connect: [], validate: [] };
  const { url, executor_registration_id: registrationId } = await register();
  const socket = new WebSocket(url);
  await new Promise((resolve, reject) => {
    socket.onopen = resolve;
    socket.onerror = reject;
  });
  try {
    // The node records the socket (lease) right after it opens.
    const deadline = Date.now() + 10_000;
    for (;;) {
      const response = await fetch(`${connectAt}/cloud/environment/bench-env/connect`, {
        method: "POST",
        body: JSON.stringify({ harness_public_key: harnessKey }),
      });
      await response.body?.cancel();
      if (response.status === 200) break;
      if (Date.now() > deadline) throw new Error(`connect answered ${response.status}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    for (let i = 0; i < n; i++) {
      let t0 = performance.now();
      const bundle = await post(connectAt, "connect", { harness_public_key: harnessKey });
      samples.connect.push(since(t0));
      t0 = performance.now();
      const verdict = await post(validateAt, "validate", {
        executor_registration_id: registrationId,
        harness_public_key: harnessKey,
        harness_key_authorization: bundle.harness_key_authorization,
      });
      samples.validate.push(since(t0));
      if (verdict.valid !== true) throw new Error("validate refused a fresh ticket");
    }
    for (let i = 0; i < Math.min(n, 50); i++) {
      // Re-registering replaces the registration; the socket then belongs to an old one, which
      // is why these come after the connect/validate rounds.
      const t0 = performance.now();
      await register();
      samples.register.push(since(t0));
    }
  } finally {
    socket.close();
  }
  return samples;
}

function medianOf(values: number[]): string {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted.length ? sorted[Math.floor(sorted.length / 2)].toFixed(2) : "-";
}

/**
 * E5 registry latency: `connect` on node B + `validate` on node A (the environment's node) of
 * a cluster (registrations, tickets and nonces in JetStream KV) vs both on one in-memory node.
 *
 * @example
 * ```ts
 * const line = await clusterE5RegistryLine(ctx);
 * ```
 */
export async function clusterE5RegistryLine(ctx: BenchContext): Promise<LineResult> {
  const n = size(ctx, 200, 1000);
  const env = { CODEX_EXEC_SERVER_LOG: "warn" };
  const parts: Record<string, E5RegistrySamples> = {};
  const pair = (s: E5RegistrySamples) => s.connect.map((c, i) => c + s.validate[i]);
  let us: Samples = NO_NATS;
  if (natsServerPath()) {
    us = await guarded(ctx, "cluster e5 registry", async () => {
      await using nats = await startNats();
      await using a = await startServerProcess(
        rendezvousArgs(["--cluster", nats.url, "--node-id", "A"]),
        { env },
      );
      await using b = await startServerProcess(
        rendezvousArgs(["--cluster", nats.url, "--node-id", "B"]),
        { env },
      );
      parts.cluster = await e5RegistrySamples(b.url, a.url, n);
      return pair(parts.cluster);
    });
  }
  const floor = await guarded(ctx, "one-node e5 registry", async () => {
    await using one = await startServerProcess(rendezvousArgs([]), { env });
    parts.one = await e5RegistrySamples(one.url, one.url, n);
    return pair(parts.one);
  });
  const describe = (label: string, s: E5RegistrySamples | undefined) =>
    s
      ? `${label}: register ${medianOf(s.register)}, connect ${medianOf(s.connect)}, ` +
        `validate ${medianOf(s.validate)} ms`
      : `${label}: -`;
  return makeLine({
    id: "cluster_e5_registry",
    title: "E5 connect (node B) + validate (node A) per harness handshake",
    unit: "ms",
    better: "lower",
    us,
    floor,
    floorLabel: "the same calls on one in-memory node",
    upstream: { skipped: "upstream has no self-hostable registry" },
    targets: [{ ratio: "absolute", op: "<=", value: 10 }],
    note: `medians, ${describe("cluster", parts.cluster)}; ${describe("one node", parts.one)}`,
  });
}
