/**
 * `deno task bench --scale`: how RSS and a quiet connection's RPC p99 grow with the work held
 * on this machine, ours and (where it can do the same work) upstream's:
 *
 * - `idle_sessions`: 1, (100,) 1,000, 10,000 initialized idle websocket sessions on one server;
 * - `processes`: 1, 100, 1,000 concurrent `cat /dev/zero` draining as fast as they can
 *   (aggregate output throughput too), a fresh server per count;
 * - `relay_streams`: 1, 100, 1,000 harness streams through `rendezvous` to one `remote`
 *   executor (all on its one websocket); RSS of both processes;
 * - `rendezvous_fanout`: one `rendezvous` holding 100 executors and 1, 100, 1,000 harness
 *   streams spread over them; RSS of the rendezvous.
 *
 * Sessions and streams are added cumulatively to one server, so each count's RSS grows from the
 * previous one's. Our servers get `--max-connections` above the largest count, so only the
 * open-file limit bounds them; a count that is refused anyway (or takes over 120 s to open) is
 * recorded as what was reached and why, never retried forever.
 * @module
 */
import { RpcClient, transportChannel } from "./_bench_rpc.ts";
import { type ServerProcess, startServerProcess } from "./_server_process.ts";
import { type BenchContext, since, size } from "./_bench_context.ts";
import { ourRunFlags, rssBytes, startOurs, startUpstream } from "./_bench_servers.ts";
import { summarize } from "./_bench_stats.ts";
import { RELAY_EXECUTOR_ID, RELAY_TOKEN, startRelay } from "./_bench_line_relay.ts";
import {
  renderScaleText,
  type ScalePoint,
  type ScaleSection,
  type ScaleSeries,
  verdict,
} from "./_bench_scale_report.ts";
import { registryConnector } from "../lib/client/mod.ts";
import { runCommand } from "./_build_steps.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const BATCH = 50;
/** A count whose units take longer than this to open stops there (the run stays bounded). */
const OPEN_LIMIT_MS = 120_000;
/** Connection caps the scale servers get: above every count, so only descriptors bound them. */
function capArgs(largest: number): string[] {
  return ["--max-connections", String(largest + 200)];
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function firstLine(error: unknown): string {
  return String((error as Error)?.message ?? error).split("\n")[0].slice(0, 160);
}

/**
 * The open-file limits of this process (`/proc/self/limits`); children inherit them.
 *
 * @example
 * ```ts
 * const { soft, hard } = await fdLimits();
 * ```
 */
export async function fdLimits(): Promise<{ soft: number; hard: number }> {
  const text = await Deno.readTextFile("/proc/self/limits").catch(() => "");
  const m = /Max open files\s+(\S+)\s+(\S+)/.exec(text);
  const parse = (s: string | undefined) => s === "unlimited" ? Infinity : Number(s ?? NaN);
  return { soft: parse(m?.[1]), hard: parse(m?.[2]) };
}

async function quietP99(client: RpcClient, n: number): Promise<number> {
  for (let i = 0; i < 20; i++) await client.call("environment/status");
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await client.call("environment/status");
    samples.push(since(t0));
  }
  return summarize(samples).p99;
}

/** Adds units (connect + initialize) up to each count; stops at the first refusal. */
async function cumulative(
  counts: number[],
  open: (index: number) => Promise<RpcClient>,
  sample: (clients: RpcClient[]) => Promise<{ rssMiB: number; p99Ms: number }>,
  log: (line: string) => void,
): Promise<ScalePoint[]> {
  const clients: RpcClient[] = [];
  const points: ScalePoint[] = [];
  let refused: string | undefined;
  try {
    for (const requested of counts) {
      const t0 = performance.now();
      while (clients.length < requested && !refused) {
        if (since(t0) > OPEN_LIMIT_MS) {
          refused = `not all opened within ${OPEN_LIMIT_MS / 1000} s`;
          break;
        }
        const batch = Math.min(BATCH, requested - clients.length);
        const base = clients.length;
        const opened = await Promise.allSettled(
          Array.from({ length: batch }, async (_, k) => {
            const client = await open(base + k);
            try {
              await client.initialize("codex-exec-server-bench-scale");
            } catch (error) {
              await client.close().catch(() => {});
              throw error;
            }
            return client;
          }),
        );
        for (const result of opened) {
          if (result.status === "fulfilled") clients.push(result.value);
          else refused ??= firstLine(result.reason);
        }
      }
      const openMs = since(t0);
      await delay(1000);
      const { rssMiB, p99Ms } = await sample(clients);
      const note = clients.length < requested ? `stopped at ${clients.length}: ${refused}` : "";
      points.push({
        n: clients.length,
        requested,
        rssMiB,
        p99Ms,
        openMs,
        ...(note ? { note } : {}),
      });
      log(
        `    ${requested}: held ${clients.length}, ${rssMiB.toFixed(1)} MiB, p99 ${
          p99Ms.toFixed(2)
        } ms${note ? ` (${note})` : ""}`,
      );
      if (refused) break;
    }
  } finally {
    for (let i = 0; i < clients.length; i += 500) {
      await Promise.all(clients.slice(i, i + 500).map((c) => c.close().catch(() => {})));
    }
  }
  return points;
}

async function idleSessions(
  ctx: BenchContext,
  kind: "us" | "upstream",
  counts: number[],
): Promise<ScaleSeries> {
  const series: ScaleSeries = {
    id: "idle_sessions",
    title: "idle initialized websocket sessions",
    unit: "session",
    server: kind,
    rssOf: "the server",
    points: [],
  };
  const upstream = ctx.upstream;
  if (kind === "upstream" && "skipped" in upstream) return { ...series, skipped: upstream.skipped };
  let server: ServerProcess | undefined;
  try {
    server = kind === "us"
      ? await startOurs(capArgs(Math.max(...counts)))
      : await startUpstream((upstream as { binary: string }).binary);
    const s = server;
    series.points = await cumulative(
      counts,
      () => RpcClient.connect(s.url),
      async (clients) => ({
        rssMiB: await rssBytes(s.pid) / 1048576,
        p99Ms: await quietP99(clients[0], size(ctx, 200, 500)),
      }),
      ctx.log,
    );
    return verdict(series);
  } catch (error) {
    return { ...series, skipped: `error: ${firstLine(error)}` };
  } finally {
    await server?.stop();
  }
}

async function producingPoint(
  ctx: BenchContext,
  server: ServerProcess,
  count: number,
): Promise<ScalePoint> {
  const quiet = await RpcClient.connect(server.url);
  await quiet.initialize("codex-exec-server-bench-scale-quiet");
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}scripts/_bench_scale_producer.ts`, server.url, String(count)],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  const nextLine = async () => {
    while (!buffered.includes("\n")) {
      const { value, done } = await lines.read();
      if (done) throw new Error("the producer exited early");
      buffered += value;
    }
    const at = buffered.indexOf("\n");
    const line = buffered.slice(0, at);
    buffered = buffered.slice(at + 1);
    return JSON.parse(line);
  };
  try {
    const t0 = performance.now();
    // Upstream starts 1,000 processes in ~2 min here; a server that takes far longer fails the
    // point instead of stalling the run.
    const limitMs = 240_000;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const started = await Promise.race([
      nextLine() as Promise<{ started: number; failed: number; error: string }>,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          try {
            child.kill("SIGKILL");
          } catch { /* exited */ }
          reject(new Error(`${count} process/starts not answered within ${limitMs / 1000} s`));
        }, limitMs);
      }),
    ]).finally(() => clearTimeout(timer));
    const openMs = since(t0);
    // Quiet round trips for the whole window, then the RSS at its end.
    const windowMs = size(ctx, 1500, 3000);
    const samples: number[] = [];
    const end = performance.now() + windowMs;
    while (performance.now() < end) {
      const s0 = performance.now();
      await quiet.call("environment/status");
      samples.push(since(s0));
    }
    const rssMiB = await rssBytes(server.pid) / 1048576;
    await child.stdin.close();
    const { mibPerSec } = await nextLine() as { mibPerSec: number };
    const note = started.failed > 0 ? `${started.failed} starts failed: ${started.error}` : "";
    return {
      n: started.started,
      requested: count,
      rssMiB,
      p99Ms: summarize(samples).p99,
      mibPerSec,
      openMs,
      ...(note ? { note } : {}),
    };
  } finally {
    await child.stdin.close().catch(() => {});
    await child.status;
    await quiet.close();
  }
}

async function processes(
  ctx: BenchContext,
  counts: number[],
): Promise<ScaleSeries[]> {
  const out: Record<"us" | "upstream", ScaleSeries> = {
    us: {
      id: "processes",
      title: "concurrent `cat /dev/zero` processes",
      unit: "process",
      server: "us",
      rssOf: "the server",
      points: [],
    },
    upstream: {
      id: "processes",
      title: "concurrent `cat /dev/zero` processes",
      unit: "process",
      server: "upstream",
      rssOf: "the server",
      points: [],
    },
  };
  const upstream = ctx.upstream;
  if ("skipped" in upstream) out.upstream.skipped = upstream.skipped;
  for (const count of counts) {
    for (const kind of ["us", "upstream"] as const) {
      const series = out[kind];
      if (series.skipped) continue;
      let server: ServerProcess | undefined;
      try {
        server = kind === "us"
          ? await startOurs()
          : await startUpstream((upstream as { binary: string }).binary);
        const point = await producingPoint(ctx, server, count);
        series.points.push(point);
        ctx.log(
          `    ${kind} ${count}: ${point.n} running, ${point.rssMiB.toFixed(1)} MiB, p99 ${
            point.p99Ms?.toFixed(2)
          } ms, ${point.mibPerSec?.toFixed(0)} MiB/s${point.note ? ` (${point.note})` : ""}`,
        );
      } catch (error) {
        series.skipped = `error at ${count}: ${firstLine(error)}`;
      } finally {
        await server?.stop();
      }
    }
  }
  return [verdict(out.us), verdict(out.upstream)];
}

async function harnessClient(registry: string, executorId: string): Promise<RpcClient> {
  const connector = registryConnector({ registry, executorId, token: RELAY_TOKEN });
  // Right after the executor attaches the rendezvous may still call it offline for a moment.
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      return new RpcClient(transportChannel(await connector.open()));
    } catch (error) {
      if (!/executor_offline/.test(String(error)) || Date.now() > deadline) throw error;
      await delay(100);
    }
  }
}

async function relayStreams(ctx: BenchContext, counts: number[]): Promise<ScaleSeries> {
  const series: ScaleSeries = {
    id: "relay_streams",
    title: "relay streams on one executor websocket",
    unit: "stream",
    server: "us",
    rssOf: "`remote` + `rendezvous`",
    points: [],
  };
  try {
    const relay = await startRelay(0, { rendezvousArgs: capArgs(Math.max(...counts)) });
    try {
      series.points = await cumulative(
        counts,
        () => harnessClient(relay.registry, RELAY_EXECUTOR_ID),
        async (clients) => {
          const remote = await rssBytes(relay.pids.remote);
          const rendezvous = await rssBytes(relay.pids.rendezvous);
          return {
            rssMiB: (remote + rendezvous) / 1048576,
            p99Ms: await quietP99(clients[0], size(ctx, 200, 500)),
          };
        },
        ctx.log,
      );
    } finally {
      await relay.stop();
    }
    return verdict(series);
  } catch (error) {
    return { ...series, skipped: `error: ${firstLine(error)}` };
  }
}

async function fanout(
  ctx: BenchContext,
  executors: number,
  counts: number[],
): Promise<ScaleSeries> {
  const series: ScaleSeries = {
    id: "rendezvous_fanout",
    title: `one rendezvous, ${executors} executors, harness streams spread over them`,
    unit: "stream",
    server: "us",
    rssOf: "the rendezvous",
    points: [],
  };
  let rendezvous: ServerProcess | undefined;
  let host: Deno.ChildProcess | undefined;
  try {
    rendezvous = await startServerProcess(
      [
        Deno.execPath(),
        "run",
        ...ourRunFlags(),
        `${ROOT}main.ts`,
        "rendezvous",
        ...capArgs(executors + Math.max(...counts)),
      ],
      { env: { CODEX_EXEC_SERVER_LOG: "warn" } },
    );
    const r = rendezvous;
    host = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        ...ourRunFlags(),
        `${ROOT}scripts/_bench_scale_executors.ts`,
        r.url,
        RELAY_TOKEN,
        String(executors),
      ],
      env: { CODEX_EXEC_SERVER_LOG: "warn" },
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const reader = host.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!text.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    if (!text.startsWith("ready")) throw new Error(`executors: ${text.trim() || "exited"}`);
    (async () => {
      for (;;) if ((await reader.read()).done) break;
    })().catch(() => {});
    series.points = await cumulative(
      counts,
      (index) => harnessClient(r.url, `bench-x${index % executors}`),
      async (clients) => ({
        rssMiB: await rssBytes(r.pid) / 1048576,
        p99Ms: await quietP99(clients[0], size(ctx, 200, 500)),
      }),
      ctx.log,
    );
    return verdict(series);
  } catch (error) {
    return { ...series, skipped: `error: ${firstLine(error)}` };
  } finally {
    if (host) {
      await host.stdin.close().catch(() => {});
      await host.status;
    }
    await rendezvous?.stop();
  }
}

/**
 * Runs every scale series and prints them; returns the results file's `scale` section.
 *
 * @example
 * ```ts
 * const section = await runScale(ctx);
 * ```
 */
export async function runScale(ctx: BenchContext): Promise<ScaleSection> {
  const { soft, hard } = await fdLimits();
  // Deno raises its own soft limit to the hard one at start-up, and every child (upstream's
  // server included) inherits it, so the hard limit is what bounds a count.
  const fdLimit = `open files soft ${soft}, hard ${hard}`;
  // Every count needs one descriptor per unit in the bench process (its client end).
  const fit = (counts: number[]) => counts.filter((n) => n + 1_000 <= soft);
  const capNote = (counts: number[]) =>
    counts.length === fit(counts).length
      ? ""
      : `; counts above ${soft - 1_000} dropped: the open-file limit (soft ${soft}, hard ${hard})`;
  const stamp = () => new Date().toISOString().slice(11, 19);
  const series: ScaleSeries[] = [];
  // 100 (10) as well: a count below our connection cap, so ours has a marginal cost too.
  const sessions = size(ctx, [1, 10, 100, 1000], [1, 100, 1000, 10000]);
  for (const kind of ["us", "upstream"] as const) {
    ctx.log(`[${stamp()}] scale idle_sessions ${kind} ${sessions.join(", ")}${capNote(sessions)}`);
    series.push(await idleSessions(ctx, kind, fit(sessions)));
  }
  const procs = size(ctx, [1, 10, 100], [1, 100, 1000]);
  ctx.log(`[${stamp()}] scale processes ${procs.join(", ")}`);
  series.push(...await processes(ctx, procs));
  const streams = size(ctx, [1, 10, 100], [1, 100, 1000]);
  ctx.log(`[${stamp()}] scale relay_streams ${streams.join(", ")}`);
  series.push(await relayStreams(ctx, streams));
  const executors = size(ctx, 10, 100);
  const fan = size(ctx, [1, 10, 100], [1, 100, 1000]);
  ctx.log(`[${stamp()}] scale rendezvous_fanout ${executors} executors, ${fan.join(", ")}`);
  series.push(await fanout(ctx, executors, fan));
  const commit = await runCommand("git", { args: ["rev-parse", "--short", "HEAD"] });
  const section: ScaleSection = {
    date: new Date().toISOString(),
    quick: ctx.quick,
    commit: commit.stdout.trim(),
    fdLimit,
    series,
  };
  console.log(renderScaleText(section));
  return section;
}
