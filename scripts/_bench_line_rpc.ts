/**
 * Benchmark lines about RPC latency: `environment/status` round trip vs a bare websocket echo,
 * and a quiet connection's p99 while another connection floods output, vs idle.
 * @module
 */
import { RpcClient, type ServerProcess } from "./_bench_rpc.ts";
import { type BenchContext, guarded, perServer, since, size } from "./_bench_context.ts";
import { startEcho } from "./_bench_servers.ts";
import { type LineResult, makeLine, type Samples, summarize } from "./_bench_stats.ts";
import { RELAY_EXECUTOR_ID, RELAY_TOKEN, relayClient, startRelay } from "./_bench_line_relay.ts";

const ROOT = new URL("..", import.meta.url).pathname;

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

/**
 * Small RPC round trip vs a bare websocket echo on the same loopback.
 *
 * @example
 * ```ts
 * const line = await rpcLine(ctx);
 * ```
 */
export async function rpcLine(ctx: BenchContext): Promise<LineResult> {
  const n = size(ctx, 300, 3000);
  const rounds = 3;
  const { us, upstream } = await perServer(
    ctx,
    (server) => rpcSamples(server.url, { n: Math.ceil(n / rounds), initialize: true }),
    { rounds },
  );
  const floor = await guarded(ctx, "floor", async () => {
    await using echo = await startEcho();
    return await rpcSamples(echo.url, { n, initialize: false });
  });
  return makeLine({
    id: "rpc_round_trip",
    title: "small RPC round trip (environment/status)",
    unit: "ms",
    better: "lower",
    us,
    floor,
    floorLabel: "bare Deno websocket echo server (own process), same client",
    upstream,
    targets: [
      { ratio: "floor", op: "<=", value: 2 },
      { ratio: "upstream", op: "<=", value: 1 },
    ],
  });
}

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
    targets: [{ ratio: "upstream", op: "<=", value: 1 }],
    note: notes.join("; "),
  });
  // The target is on p99, not the median the generic ratio uses.
  if (!("skipped" in line.us) && !("skipped" in line.floor)) {
    const ratio = line.us.p99 / line.floor.p99;
    line.targets.unshift({ text: `p99 flooded/idle <= 5 (${ratio.toFixed(2)})`, met: ratio <= 5 });
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
    const ratio = line.us.p99 / line.floor.p99;
    line.targets.push({ text: `p99 flooded/idle <= 5 (${ratio.toFixed(2)})`, met: ratio <= 5 });
  }
  return line;
}
