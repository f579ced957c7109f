/**
 * Benchmark lines `quiet_under_flood` and `relay_quiet_under_flood`: a quiet connection's
 * `environment/status` round trip while another connection floods output, vs idle (directly,
 * and through one relay stream each).
 * @module
 */
import type { ServerProcess } from "./_server_process.ts";
import { type BenchContext, guarded, perServer, size } from "./_bench_context.ts";
import { type LineResult, makeLine, type Samples, summarize } from "./_bench_stats.ts";
import { RELAY_EXECUTOR_ID, RELAY_TOKEN, relayClient, startRelay } from "./_bench_line_relay.ts";
import { rpcSamples } from "./_bench_line_rpc.ts";

const ROOT = new URL("..", import.meta.url).pathname;

/**
 * A flooding client in its own process, so draining the flood does not slow the quiet one.
 * `target` is a `ws://` URL or `[registry, executorId, token]`.
 */
async function startFlood(target: string[]): Promise<{ stop(): Promise<string> }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}scripts/_bench_flood.ts`, ...target],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("flooding\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("flood client exited before flooding");
    text += value;
  }
  return {
    async stop() {
      await child.stdin.close();
      let rest = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        rest += value;
      }
      await child.status;
      return rest.trim();
    },
  };
}

/**
 * A quiet connection's RPC latency while another connection floods `process/output`, vs the
 * same server idle. Both connections are sessions of one server, as two Codex threads would be.
 *
 * @example
 * ```ts
 * const line = await floodLine(ctx);
 * ```
 */
export async function floodLine(ctx: BenchContext): Promise<LineResult> {
  const n = size(ctx, 300, 2000);
  let usIdle: number[] = [];
  let upstreamIdle: number[] = [];
  const notes: string[] = [];
  const measure = async (server: ServerProcess, kind: "us" | "upstream") => {
    const idle = await rpcSamples(server.url, { n, initialize: true });
    if (kind === "us") usIdle = idle;
    else upstreamIdle = idle;
    const flood = await startFlood([server.url]);
    let flooded: number[];
    try {
      flooded = await rpcSamples(server.url, { n, initialize: true, warmup: 50 });
    } finally {
      notes.push(`${kind} flood ${await flood.stop()}`);
    }
    return flooded;
  };
  const { us, upstream } = await perServer(ctx, measure);
  if (usIdle.length > 0 && upstreamIdle.length > 0) {
    notes.push(
      `idle p99: us ${summarize(usIdle).p99.toFixed(3)} ms, upstream ` +
        `${summarize(upstreamIdle).p99.toFixed(3)} ms`,
    );
  }
  const line = makeLine({
    id: "quiet_under_flood",
    title: "quiet connection RPC while another floods",
    unit: "ms",
    better: "lower",
    us,
    floor: usIdle.length > 0 ? usIdle : { skipped: "our idle run failed" },
    floorLabel: "the same quiet RPCs on our server while idle",
    upstream,
    targets: [],
    note: notes.join("; "),
  });
  // The targets are on p99s, not the medians the generic ratios use: flooded p99 at most
  // 3x our idle p99, and at most upstream's p99 under its own flood.
  if (!("skipped" in line.us) && !("skipped" in line.floor)) {
    const ratio = line.us.p99 / line.floor.p99;
    line.targets.push({ text: `p99 flooded/idle <= 3 (${ratio.toFixed(2)})`, met: ratio <= 3 });
  }
  if (!("skipped" in line.us) && !("skipped" in line.upstream)) {
    const ratio = line.us.p99 / line.upstream.p99;
    line.targets.push({ text: `p99 us/upstream <= 1 (${ratio.toFixed(2)})`, met: ratio <= 1 });
  }
  return line;
}

/**
 * The same through the relay: a quiet harness stream's RPC latency while another stream of the
 * same executor floods, vs the quiet stream alone.
 *
 * @example
 * ```ts
 * const line = await relayFloodLine(ctx);
 * ```
 */
export async function relayFloodLine(ctx: BenchContext): Promise<LineResult> {
  const n = size(ctx, 300, 2000);
  let idle: Samples = { skipped: "relay setup failed" };
  let floodNote = "";
  const flooded = await guarded(ctx, "us", async () => {
    const relay = await startRelay(0);
    try {
      const connect = () => relayClient(relay.registry);
      idle = await rpcSamples(connect, { n, initialize: true });
      const flood = await startFlood([relay.registry, RELAY_EXECUTOR_ID, RELAY_TOKEN]);
      try {
        return await rpcSamples(connect, { n, initialize: true, warmup: 50 });
      } finally {
        floodNote = `flood ${await flood.stop()}`;
      }
    } finally {
      await relay.stop();
    }
  });
  const line = makeLine({
    id: "relay_quiet_under_flood",
    title: "quiet relay stream RPC while another floods",
    unit: "ms",
    better: "lower",
    us: flooded,
    floor: idle,
    floorLabel: "the same quiet RPCs through the relay with no flood",
    upstream: { skipped: "upstream has no self-hostable rendezvous" },
    targets: [],
    note: `two harness streams of one executor through our rendezvous; ${floodNote}`,
  });
  if (!("skipped" in line.us) && !("skipped" in line.floor)) {
    // Issue 16: the quiet stream's p99 under flood at most 3x its idle p99.
    const ratio = line.us.p99 / line.floor.p99;
    line.targets.push({ text: `p99 flooded/idle <= 3 (${ratio.toFixed(2)})`, met: ratio <= 3 });
  }
  return line;
}
