/**
 * Benchmark lines about a server's fixed cost: `startup` (spawn until the `ws://` line is on
 * stdout; ours from the release artifact and from source, upstream, and a bare Deno websocket
 * server as the floor) and `rss_idle` (a fresh server's resident memory after one session was
 * initialized and closed, once it has settled).
 * @module
 */
import { RpcClient } from "./_bench_rpc.ts";
import { type ServerProcess, startServerProcess } from "./_server_process.ts";
import { alternateRounds, type BenchContext, since, size } from "./_bench_context.ts";
import { type Artifact, releaseArtifact } from "./_bench_artifact.ts";
import { rssBytes, startEcho, startOurs, startUpstream } from "./_bench_servers.ts";
import { type LineResult, makeLine, type Samples, summarize } from "./_bench_stats.ts";

type Starter = () => Promise<ServerProcess>;

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Runs each starter once per round, in the same order every round, so load drift hits all
 * columns alike; `measure` gets the started server and returns one sample. A column that fails
 * once is skipped with the reason from then on.
 */
function alternate(
  ctx: BenchContext,
  starters: Record<string, Starter | { skipped: string }>,
  rounds: number,
  measure: (server: ServerProcess, startMs: number, column: string) => Promise<number>,
): Promise<Record<string, Samples>> {
  const columns: Record<string, Samples> = {};
  for (const [name, starter] of Object.entries(starters)) {
    columns[name] = typeof starter === "function" ? [] : starter;
  }
  return alternateRounds(ctx, columns, rounds, async (name) => {
    let server: ServerProcess | undefined;
    try {
      const t0 = performance.now();
      server = await (starters[name] as Starter)();
      return [await measure(server, since(t0), name)];
    } finally {
      await server?.stop();
    }
  });
}

function upstreamStarter(ctx: BenchContext): Starter | { skipped: string } {
  const upstream = ctx.upstream;
  return "skipped" in upstream ? upstream : () => startUpstream(upstream.binary);
}

let artifactPromise: Promise<Artifact> | undefined;

/** The artifact, found or built once per run (both lines use it). */
function artifact(ctx: BenchContext): Promise<Artifact> {
  artifactPromise ??= releaseArtifact(`${ctx.tmp}/artifact-cache`, ctx.log);
  return artifactPromise;
}

async function artifactStarter(ctx: BenchContext): Promise<Starter | { skipped: string }> {
  try {
    const found = await artifact(ctx);
    const start = () =>
      startServerProcess([...found.argv, "serve", "--listen", "ws://127.0.0.1:0"], {
        env: { ...found.env, CODEX_EXEC_SERVER_LOG: "warn" },
      });
    // A self-extracting executable unpacks on its first run only; users pay that once.
    await (await start()).stop();
    return start;
  } catch (error) {
    return { skipped: `release artifact unavailable: ${(error as Error).message.slice(0, 300)}` };
  }
}

function median(samples: Samples): string {
  return Array.isArray(samples) && samples.length > 0
    ? summarize(samples).median.toFixed(1)
    : "skipped";
}

/**
 * CPU time a process (every thread) has used so far, in ms, from `/proc/PID/task/TID/schedstat`
 * (ns on CPU). Unlike wall time it barely moves when other work shares the cores.
 */
async function cpuMs(pid: number): Promise<number> {
  let ns = 0;
  for await (const task of Deno.readDir(`/proc/${pid}/task`)) {
    try {
      ns += Number(
        (await Deno.readTextFile(`/proc/${pid}/task/${task.name}/schedstat`)).split(" ")[0],
      );
    } catch {
      // the thread ended
    }
  }
  return ns / 1e6;
}

/**
 * Spawn until the `ws://` line, in ms: ours from the release artifact (the `us` column, which
 * the target is on) and from source (in the note), upstream, and a bare Deno websocket server.
 *
 * @example
 * ```ts
 * const line = await startupLine(ctx);
 * ```
 */
export async function startupLine(ctx: BenchContext): Promise<LineResult> {
  const rounds = size(ctx, 5, 20);
  const found = await artifact(ctx).catch(() => undefined);
  const cpu: Record<string, number[]> = {};
  const results = await alternate(
    ctx,
    {
      artifact: await artifactStarter(ctx),
      source: () => startOurs(),
      upstream: upstreamStarter(ctx),
      floor: startEcho,
    },
    rounds,
    async (server, startMs, column) => {
      (cpu[column] ??= []).push(await cpuMs(server.pid).catch(() => NaN));
      return startMs;
    },
  );
  const cpuMedian = (column: string) => {
    const values = (cpu[column] ?? []).filter(Number.isFinite);
    return values.length ? summarize(values).median : NaN;
  };
  const cpuNote = `CPU until the line (all threads, schedstat; steady under load), median: ` +
    `artifact ${cpuMedian("artifact").toFixed(1)} ms, source ${cpuMedian("source").toFixed(1)}, ` +
    `upstream ${cpuMedian("upstream").toFixed(1)}, floor ${cpuMedian("floor").toFixed(1)}: ` +
    `artifact ${(cpuMedian("artifact") / cpuMedian("upstream")).toFixed(2)}x upstream, ` +
    `${(cpuMedian("artifact") / cpuMedian("floor")).toFixed(2)}x floor`;
  const source = results.source;
  const up = results.upstream;
  let sourceNote = `from source (\`deno run\` with the release permissions): ${median(source)} ms`;
  if (Array.isArray(source) && Array.isArray(up) && source.length && up.length) {
    const s = summarize(source);
    sourceNote = `${sourceNote} median (${s.min.toFixed(1)}–${s.p99.toFixed(1)}), ` +
      `${(s.median / summarize(up).median).toFixed(2)}x upstream`;
  }
  return makeLine({
    id: "startup",
    title: "start-up: spawn until the ws:// line (release artifact)",
    unit: "ms",
    better: "lower",
    us: results.artifact,
    floor: results.floor,
    floorLabel: "a bare Deno websocket server (scripts/_bench_echo.ts) printing its URL",
    upstream: up,
    targets: [{ ratio: "upstream", op: "<=", value: 2 }],
    note: `us = ${found?.label ?? "the release artifact"}; ${sourceNote}; ${cpuNote}; each ` +
      `sample a fresh process, the four kinds alternating, ${rounds} rounds`,
  });
}

/**
 * Polls the RSS until two readings 250 ms apart differ by less than 1% (at most 3 s), so a
 * collection still returning memory does not land in the sample.
 */
async function settledRss(pid: number): Promise<number> {
  let last = await rssBytes(pid);
  for (let i = 0; i < 12; i++) {
    await delay(250);
    const now = await rssBytes(pid);
    if (Math.abs(now - last) < last * 0.01) return now;
    last = now;
  }
  return last;
}

/**
 * A fresh server's RSS in MiB after one initialized-then-closed connection, settled.
 *
 * @example
 * ```ts
 * const line = await rssIdleLine(ctx);
 * ```
 */
export async function rssIdleLine(ctx: BenchContext): Promise<LineResult> {
  const rounds = size(ctx, 2, 5);
  const found = await artifact(ctx).catch(() => undefined);
  const results = await alternate(
    ctx,
    {
      artifact: await artifactStarter(ctx),
      source: () => startOurs(),
      upstream: upstreamStarter(ctx),
      floor: startEcho,
    },
    rounds,
    async (server) => {
      const client = await RpcClient.connect(server.url);
      // The echo floor answers `initialize` with the request itself, which is enough here.
      await client.initialize();
      await client.close();
      return await settledRss(server.pid) / 1048576;
    },
  );
  return makeLine({
    id: "rss_idle",
    title: "RSS idle: after start + one initialized, closed session",
    unit: "MiB",
    better: "lower",
    us: results.artifact,
    floor: results.floor,
    floorLabel: "a bare Deno websocket server after one connection (the runtime's own baseline)",
    upstream: results.upstream,
    targets: [{ ratio: "upstream", op: "<=", value: 1 }],
    note: `us = ${found?.label ?? "the release artifact"} (what users run, as on the start-up ` +
      `line); from source (\`deno run\` of the TypeScript modules): ${
        median(results.source)
      } MiB median; VmRSS once two readings 250 ms apart ` +
      `agree within 1%; a fresh process per sample, ${rounds} rounds`,
  });
}
