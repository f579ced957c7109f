/**
 * Benchmark line `rpc_round_trip`: `environment/status` round trip vs a bare websocket echo.
 * @module
 */
import { RpcClient } from "./_bench_rpc.ts";
import { type BenchContext, guarded, perServer, since, size } from "./_bench_context.ts";
import { startEcho } from "./_bench_servers.ts";
import { type LineResult, makeLine } from "./_bench_stats.ts";

/**
 * Sequential `environment/status` round trips on one initialized connection, in ms. Against the
 * echo server the same request comes back unchanged, which the client takes as the reply.
 *
 * @example
 * ```ts
 * const samples = await rpcSamples("ws://127.0.0.1:1234", { n: 100, initialize: true });
 * ```
 */
export async function rpcSamples(
  connect: string | (() => Promise<RpcClient>),
  options: { n: number; initialize: boolean; warmup?: number },
): Promise<number[]> {
  const client = typeof connect === "string" ? await RpcClient.connect(connect) : await connect();
  try {
    if (options.initialize) await client.initialize();
    for (let i = 0; i < (options.warmup ?? 200); i++) await client.call("environment/status");
    const samples: number[] = [];
    for (let i = 0; i < options.n; i++) {
      const t0 = performance.now();
      await client.call("environment/status");
      samples.push(since(t0));
    }
    return samples;
  } finally {
    await client.close();
  }
}

/** Sets the CPU affinity of every thread of `pid` (`taskset -a -p -c`). */
async function pin(pid: number, cpus: string): Promise<void> {
  const out = await new Deno.Command("taskset", {
    args: ["-a", "-p", "-c", cpus, String(pid)],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`taskset -c ${cpus} ${pid}: ${new TextDecoder().decode(out.stderr)}`);
  }
}

/**
 * Runs `fn` with the server's threads on the last CPU and this (client) process's threads on
 * CPU 0, then gives this process every CPU back: each side has a core to itself, so what differs
 * between servers is their own cost per request, not where the scheduler put them.
 */
async function pinnedApart<T>(serverPid: number, fn: () => Promise<T>): Promise<T> {
  const cpus = navigator.hardwareConcurrency;
  if (cpus < 2) throw new Error("pinning apart needs 2 CPUs");
  await pin(serverPid, String(cpus - 1));
  await pin(Deno.pid, "0");
  try {
    return await fn();
  } finally {
    await pin(Deno.pid, `0-${cpus - 1}`);
  }
}

/** What tells the plain and the pinned RPC line apart. */
interface RpcLineKind {
  id: string;
  title: string;
  floorLabel: string;
  /** Runs one measurement against the server process `pid`. */
  around: <T>(pid: number, fn: () => Promise<T>) => Promise<T>;
}

async function rpcLineOf(ctx: BenchContext, kind: RpcLineKind): Promise<LineResult> {
  const n = size(ctx, 300, 3000);
  const rounds = 3;
  const { us, upstream } = await perServer(
    ctx,
    (server) =>
      kind.around(
        server.pid,
        () => rpcSamples(server.url, { n: Math.ceil(n / rounds), initialize: true }),
      ),
    { rounds },
  );
  const floor = await guarded(ctx, "floor", async () => {
    await using echo = await startEcho();
    return await kind.around(echo.pid, () => rpcSamples(echo.url, { n, initialize: false }));
  });
  return makeLine({
    id: kind.id,
    title: kind.title,
    unit: "ms",
    better: "lower",
    us,
    floor,
    floorLabel: kind.floorLabel,
    upstream,
    targets: [
      { ratio: "floor", op: "<=", value: 2 },
      { ratio: "upstream", op: "<=", value: 1 },
    ],
  });
}

/**
 * Small RPC round trip vs a bare websocket echo on the same loopback.
 *
 * @example
 * ```ts
 * const line = await rpcLine(ctx);
 * ```
 */
export function rpcLine(ctx: BenchContext): Promise<LineResult> {
  return rpcLineOf(ctx, {
    id: "rpc_round_trip",
    title: "small RPC round trip (environment/status)",
    floorLabel: "bare Deno websocket echo server (own process), same client",
    around: (_pid, fn) => fn(),
  });
}

/**
 * The same round trips with the server pinned to one core and the client to another (the issue
 * asks for parity pinned and unpinned).
 *
 * @example
 * ```ts
 * const line = await rpcPinnedLine(ctx);
 * ```
 */
export function rpcPinnedLine(ctx: BenchContext): Promise<LineResult> {
  return rpcLineOf(ctx, {
    id: "rpc_round_trip_pinned",
    title: "small RPC round trip, server and client pinned to different cores",
    floorLabel: "bare Deno websocket echo server pinned the same way, same client",
    around: pinnedApart,
  });
}
