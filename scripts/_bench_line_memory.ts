/**
 * Benchmark line: resident memory per idle session with many sessions open (server RSS growth
 * divided by the session count), vs a bare websocket echo server holding as many connections.
 * @module
 */
import { RpcClient } from "./_bench_rpc.ts";
import { type BenchContext, guarded, perServer, size } from "./_bench_context.ts";
import { rssBytes, startEcho } from "./_bench_servers.ts";
import { type LineResult, makeLine } from "./_bench_stats.ts";

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Opens `reps` batches of `n` connections (initialized sessions unless `initialize` is false)
 * and keeps them all open; after each batch the sample is the server's RSS growth since the
 * baseline divided by the connections opened so far, in KiB. Cumulative samples are steadier
 * than per-batch deltas, which allocators' arena growth makes jumpy.
 */
async function kibPerConnection(
  url: string,
  pid: number,
  options: { n: number; reps: number; initialize: boolean },
): Promise<number[]> {
  const clients: RpcClient[] = [];
  const open = async () => {
    const client = await RpcClient.connect(url);
    clients.push(client);
    if (options.initialize) await client.initialize();
    else await client.call("ping");
  };
  try {
    // One connection first so one-time costs (first session, JIT) are in the baseline.
    await open();
    await delay(500);
    const before = await rssBytes(pid);
    const samples: number[] = [];
    const batch = 50;
    for (let r = 0; r < options.reps; r++) {
      for (let i = 0; i < options.n; i += batch) {
        await Promise.all(Array.from({ length: Math.min(batch, options.n - i) }, open));
      }
      await delay(1000);
      samples.push((await rssBytes(pid) - before) / 1024 / (options.n * (r + 1)));
    }
    return samples;
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
}

/**
 * RSS per idle session.
 *
 * @example
 * ```ts
 * const line = await memoryLine(ctx);
 * ```
 */
export async function memoryLine(ctx: BenchContext): Promise<LineResult> {
  const n = size(ctx, 200, 1000);
  const reps = size(ctx, 1, 2);
  const { us, upstream } = await perServer(
    ctx,
    (server) => kibPerConnection(server.url, server.pid, { n, reps, initialize: true }),
    // The default connection cap follows the open-file limit (384 at ulimit -n 1024).
    { ourArgs: ["--max-connections", String(n * reps + 100)] },
  );
  const floor = await guarded(ctx, "floor", async () => {
    await using echo = await startEcho();
    return await kibPerConnection(echo.url, echo.pid, { n, reps, initialize: false });
  });
  return makeLine({
    id: "rss_per_idle_session",
    title: `RSS per idle session (${reps > 1 ? `${n}, then ${n * reps}` : n} sessions)`,
    unit: "KiB",
    better: "lower",
    us,
    floor,
    floorLabel: "bare Deno websocket echo server holding as many idle connections",
    upstream,
    targets: [
      { ratio: "absolute", op: "<=", value: 64, stat: "median" },
      { ratio: "upstream", op: "<=", value: 1 },
    ],
    note: "server VmRSS growth over the baseline divided by the sessions open, after each batch",
  });
}
