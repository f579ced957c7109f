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

/** Opens `n` connections (initialized sessions unless `echo`), returns KiB of RSS per one. */
async function kibPerConnection(
  url: string,
  pid: number,
  options: { n: number; initialize: boolean },
): Promise<number> {
  const clients: RpcClient[] = [];
  try {
    // One connection first so one-time costs (first session, JIT) are in the baseline.
    const first = await RpcClient.connect(url);
    clients.push(first);
    if (options.initialize) await first.initialize();
    else await first.call("ping");
    await delay(500);
    const before = await rssBytes(pid);
    const batch = 50;
    for (let i = 0; i < options.n; i += batch) {
      await Promise.all(
        Array.from({ length: Math.min(batch, options.n - i) }, async () => {
          const client = await RpcClient.connect(url);
          clients.push(client);
          if (options.initialize) await client.initialize();
          else await client.call("ping");
        }),
      );
    }
    await delay(1000);
    const after = await rssBytes(pid);
    return (after - before) / 1024 / options.n;
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
  const { us, upstream } = await perServer(ctx, async (server) => {
    const samples: number[] = [];
    // Each repetition opens n fresh sessions; the previous ones linger detached (resumable).
    for (let r = 0; r < reps; r++) {
      samples.push(await kibPerConnection(server.url, server.pid, { n, initialize: true }));
    }
    return samples;
  });
  const floor = await guarded(ctx, "floor", async () => {
    await using echo = await startEcho();
    const samples: number[] = [];
    for (let r = 0; r < reps; r++) {
      samples.push(await kibPerConnection(echo.url, echo.pid, { n, initialize: false }));
    }
    return samples;
  });
  return makeLine({
    id: "rss_per_idle_session",
    title: `RSS per idle session (${n} sessions)`,
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
    note: "server VmRSS after opening the sessions minus before, divided by their count",
  });
}
