/**
 * `deno task bench`: measures our exec-server, a floor (the best the machine can do without an
 * exec-server in the way) and upstream's Rust `codex exec-server` side by side in one run,
 * prints min / median / p99 with both ratios per line, and writes `bench/results.json`.
 *
 * Setup: installs `@openai/codex@0.169.0` into `bench/upstream/` with npm when it is missing
 * (`--no-upstream` skips that column instead). Flags: `--quick` (small sizes, a smoke run),
 * `--only id,id` (run some lines), `--out PATH` (default bench/results.json), `--profile DIR`
 * (every process of ours writes a `--cpu-prof` profile there on exit), `--markdown` (also print
 * the table as Markdown), `--scale` (instead of the lines, how cost grows with sessions,
 * processes and relay streams: `_bench_scale.ts`; writes the file's `scale` section and keeps
 * its lines). `deno task bench:table` turns the results file into the README's tables.
 *
 * Lines: startup, rss_idle, rpc_round_trip, rpc_round_trip_pinned, spawn_pipe, spawn_pty,
 * spawn_sandboxed, output_throughput, readblock_download, writeblock_upload, relay_throughput,
 * relay_throughput_lossy, e5_handshake, e5_throughput, quiet_under_flood, relay_quiet_under_flood,
 * rss_per_idle_session, cluster_relay_throughput, cluster_rpc_round_trip, cluster_connect_1000,
 * cluster_e5_registry.
 *
 * @example
 * ```sh
 * deno task bench --quick
 * deno task bench --only rpc_round_trip,spawn_pipe
 * deno task bench --scale --out /tmp/scale.json
 * ```
 * @module
 */
import { parseArgs } from "node:util";
import type { BenchContext } from "./_bench_context.ts";
import { rpcLine, rpcPinnedLine } from "./_bench_line_rpc.ts";
import { floodLine, relayFloodLine } from "./_bench_line_flood.ts";
import { outputLine, spawnLine } from "./_bench_line_process.ts";
import { downloadLine } from "./_bench_line_fs.ts";
import { uploadLine } from "./_bench_line_upload.ts";
import { memoryLine } from "./_bench_line_memory.ts";
import { relayLine } from "./_bench_line_relay.ts";
import { e5HandshakeLine, e5ThroughputLine } from "./_bench_line_e5.ts";
import { sandboxedSpawnLine } from "./_bench_line_sandbox.ts";
import { rssIdleLine, startupLine } from "./_bench_line_startup.ts";
import {
  clusterConnectLine,
  clusterE5RegistryLine,
  clusterRpcLine,
  clusterThroughputLine,
} from "./_bench_line_cluster.ts";
import { findUpstream, setProfileDir, UPSTREAM_PACKAGE } from "./_bench_servers.ts";
import { type LineResult, renderMarkdown, renderTable } from "./_bench_stats.ts";
import { runScale } from "./_bench_scale.ts";
import { VERSION } from "./_build_config.ts";
import { runCommand } from "./_build_steps.ts";

const LINES: Record<string, (ctx: BenchContext) => Promise<LineResult>> = {
  startup: startupLine,
  rss_idle: rssIdleLine,
  rpc_round_trip: rpcLine,
  rpc_round_trip_pinned: rpcPinnedLine,
  spawn_pipe: (ctx) => spawnLine(ctx, { tty: false }),
  spawn_pty: (ctx) => spawnLine(ctx, { tty: true }),
  spawn_sandboxed: sandboxedSpawnLine,
  output_throughput: outputLine,
  readblock_download: downloadLine,
  writeblock_upload: uploadLine,
  relay_throughput: (ctx) => relayLine(ctx, { loss: 0 }),
  relay_throughput_lossy: (ctx) => relayLine(ctx, { loss: 0.05 }),
  e5_handshake: e5HandshakeLine,
  e5_throughput: e5ThroughputLine,
  quiet_under_flood: floodLine,
  relay_quiet_under_flood: relayFloodLine,
  rss_per_idle_session: memoryLine,
  cluster_relay_throughput: clusterThroughputLine,
  cluster_rpc_round_trip: clusterRpcLine,
  cluster_connect_1000: clusterConnectLine,
  cluster_e5_registry: clusterE5RegistryLine,
};

/** Every line id, in the order the bench runs them (the README table's order). */
export const LINE_IDS: string[] = Object.keys(LINES);

/** The results file at `path` when it exists and parses, else null. */
async function previous(path: string): Promise<Record<string, unknown> | null> {
  try {
    return JSON.parse(await Deno.readTextFile(path));
  } catch {
    return null;
  }
}

async function machine(): Promise<Record<string, unknown>> {
  const cpuinfo = await Deno.readTextFile("/proc/cpuinfo").catch(() => "");
  const commit = await runCommand("git", { args: ["rev-parse", "--short", "HEAD"] });
  return {
    cpu: /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1] ?? Deno.build.arch,
    cores: navigator.hardwareConcurrency,
    os: Deno.build.target,
    deno: Deno.version.deno,
    commit: commit.stdout.trim(),
  };
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      quick: { type: "boolean", default: false },
      "no-upstream": { type: "boolean", default: false },
      only: { type: "string" },
      out: { type: "string", default: "bench/results.json" },
      profile: { type: "string" },
      markdown: { type: "boolean", default: false },
      scale: { type: "boolean", default: false },
    },
  });
  const ids = values.only ? values.only.split(",").map((s) => s.trim()) : Object.keys(LINES);
  for (const id of ids) {
    if (!LINES[id]) throw new Error(`unknown line \`${id}\`; known: ${Object.keys(LINES)}`);
  }
  if (values.profile) {
    await Deno.mkdir(values.profile, { recursive: true });
    setProfileDir(values.profile);
  }
  const upstream = values["no-upstream"]
    ? { skipped: "--no-upstream given" }
    : await findUpstream({ install: true });
  const tmp = await Deno.makeTempDir({ prefix: "codex-bench-" });
  const ctx: BenchContext = {
    quick: values.quick,
    upstream,
    tmp,
    log: (line) => console.error(line),
  };
  if ("skipped" in upstream) ctx.log(`upstream column skipped: ${upstream.skipped}`);
  const root = new URL("..", import.meta.url).pathname;
  const out = values.out.startsWith("/") ? values.out : `${root}${values.out}`;
  const before = await previous(out);
  const lines: LineResult[] = [];
  let scale: unknown = before?.scale;
  try {
    if (values.scale) {
      scale = await runScale(ctx);
    } else {
      for (const id of ids) {
        ctx.log(`[${new Date().toISOString().slice(11, 19)}] ${id} ...`);
        lines.push(await LINES[id](ctx));
      }
    }
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
  if (!values.scale) {
    console.log(renderTable(lines));
    if (values.markdown) console.log(`\n${renderMarkdown(lines)}`);
  }
  // A --scale run keeps the file's lines and a line run keeps its scale section: each mode
  // owns one part of the results file.
  const result = values.scale && before ? { ...before, scale } : {
    date: new Date().toISOString(),
    version: VERSION,
    upstream: "skipped" in upstream ? { skipped: upstream.skipped } : UPSTREAM_PACKAGE,
    quick: values.quick,
    machine: await machine(),
    lines,
    ...(scale ? { scale } : {}),
  };
  await Deno.writeTextFile(out, JSON.stringify(result, null, 2) + "\n");
  console.log(`\nwrote ${out}`);
  if (out === `${root}bench/results.json`) {
    console.log("README tables: run `deno task bench:table` (deno task check fails until then)");
  }
  return 0;
}

if (import.meta.main) Deno.exit(await main());
