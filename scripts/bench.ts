/**
 * `deno task bench`: measures our exec-server, a floor (the best the machine can do without an
 * exec-server in the way) and upstream's Rust `codex exec-server` side by side in one run,
 * prints min / median / p99 with both ratios per line, and writes `bench/results.json`.
 *
 * Setup: installs `@openai/codex@0.169.0` into `bench/upstream/` with npm when it is missing
 * (`--no-upstream` skips that column instead). Flags: `--quick` (small sizes, a smoke run),
 * `--only id,id` (run some lines), `--out PATH` (default bench/results.json), `--profile DIR`
 * (every process of ours writes a `--cpu-prof` profile there on exit), `--markdown` (also print
 * the table as Markdown).
 *
 * Lines: rpc_round_trip, spawn_pipe, spawn_pty, output_throughput, readblock_download,
 * relay_throughput, relay_throughput_lossy, quiet_under_flood, relay_quiet_under_flood,
 * rss_per_idle_session, cluster_relay_throughput, cluster_rpc_round_trip, cluster_connect_1000,
 * cluster_e5_registry.
 *
 * @example
 * ```sh
 * deno task bench --quick
 * deno task bench --only rpc_round_trip,spawn_pipe
 * ```
 * @module
 */
import { parseArgs } from "node:util";
import type { BenchContext } from "./_bench_context.ts";
import { rpcLine } from "./_bench_line_rpc.ts";
import { floodLine, relayFloodLine } from "./_bench_line_flood.ts";
import { outputLine, spawnLine } from "./_bench_line_process.ts";
import { downloadLine } from "./_bench_line_fs.ts";
import { uploadLine } from "./_bench_line_upload.ts";
import { memoryLine } from "./_bench_line_memory.ts";
import { relayLine } from "./_bench_line_relay.ts";
import { e5HandshakeLine, e5ThroughputLine } from "./_bench_line_e5.ts";
import { sandboxedSpawnLine } from "./_bench_line_sandbox.ts";
import {
  clusterConnectLine,
  clusterE5RegistryLine,
  clusterRpcLine,
  clusterThroughputLine,
} from "./_bench_line_cluster.ts";
import { findUpstream, setProfileDir, UPSTREAM_PACKAGE } from "./_bench_servers.ts";
import { type LineResult, renderMarkdown, renderTable } from "./_bench_stats.ts";
import { VERSION } from "./_build_config.ts";
import { runCommand } from "./_build_steps.ts";

const LINES: Record<string, (ctx: BenchContext) => Promise<LineResult>> = {
  rpc_round_trip: rpcLine,
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
  const lines: LineResult[] = [];
  try {
    for (const id of ids) {
      ctx.log(`[${new Date().toISOString().slice(11, 19)}] ${id} ...`);
      lines.push(await LINES[id](ctx));
    }
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
  console.log(renderTable(lines));
  if (values.markdown) console.log(`\n${renderMarkdown(lines)}`);
  const root = new URL("..", import.meta.url).pathname;
  const out = values.out.startsWith("/") ? values.out : `${root}${values.out}`;
  const result = {
    date: new Date().toISOString(),
    version: VERSION,
    upstream: "skipped" in upstream ? { skipped: upstream.skipped } : UPSTREAM_PACKAGE,
    quick: values.quick,
    machine: await machine(),
    lines,
  };
  await Deno.writeTextFile(out, JSON.stringify(result, null, 2) + "\n");
  console.log(`\nwrote ${out}`);
  return 0;
}

if (import.meta.main) Deno.exit(await main());
