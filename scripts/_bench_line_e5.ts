/**
 * Benchmark lines for E5 Noise environments, all through one of our `rendezvous` processes:
 * the handshake (message 1 → `/validate` → message 2) against our executor and upstream's, and
 * output throughput of one Noise stream vs our cleartext relay stream and vs upstream's executor.
 * @module
 */
import { RpcClient, transportChannel } from "./_bench_rpc.ts";
import { startServerProcess } from "./_server_process.ts";
import { alternateRounds, type BenchContext, guarded, size } from "./_bench_context.ts";
import { outputThroughput } from "./_bench_line_process.ts";
import { ourRunFlags } from "./_bench_servers.ts";
import { relayClient, startRelay } from "./_bench_line_relay.ts";
import { type LineResult, makeLine, type Samples } from "./_bench_stats.ts";
import { environmentConnector } from "../lib/client/mod.ts";
import { generateHybridKeyPair } from "../lib/noise/mod.ts";
import { connectEnvironment } from "../lib/registry/mod.ts";
import { openNoiseHarnessStream } from "../lib/relay/noise_harness.ts";
import { connectWsLink } from "../lib/relay/ws_link.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const TOKEN = "bench-e5-token";
const ENVIRONMENT = "bench-env";

type Kind = "ours" | "upstream";

/** A rendezvous with one executor of `kind` registered as {@link ENVIRONMENT}. */
async function startEnvironment(
  ctx: BenchContext,
  kind: Kind,
): Promise<{ registry: string; stop(): Promise<void> }> {
  const rendezvous = await startServerProcess(
    [Deno.execPath(), "run", ...ourRunFlags(), `${ROOT}main.ts`, "rendezvous"],
    { env: { CODEX_EXEC_SERVER_LOG: "warn" } },
  );
  const home = await Deno.makeTempDir({ prefix: "codex-home-", dir: ctx.tmp });
  const argv = kind === "ours"
    ? [Deno.execPath(), "run", ...ourRunFlags(), `${ROOT}main.ts`, "remote"]
    : ["binary" in ctx.upstream ? ctx.upstream.binary : "codex", "exec-server"];
  const executor = new Deno.Command(argv[0], {
    args: [...argv.slice(1), "--remote", rendezvous.url, "--environment-id", ENVIRONMENT],
    env: {
      CODEX_EXEC_SERVER_REMOTE_BEARER_TOKEN: TOKEN,
      CODEX_API_KEY: TOKEN,
      CODEX_HOME: home,
      CODEX_EXEC_SERVER_LOG: "warn",
      RUST_LOG: "warn",
    },
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const stop = async () => {
    try {
      executor.kill("SIGTERM");
    } catch { /* exited */ }
    await executor.status;
    await rendezvous.stop();
  };
  // Online once a bundle can be had.
  const key = await generateHybridKeyPair();
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await connectEnvironment({
        registry: rendezvous.url,
        environmentId: ENVIRONMENT,
        harnessKey: key.public,
        token: TOKEN,
      });
      break;
    } catch (error) {
      if (Date.now() > deadline) {
        await stop();
        throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  return { registry: rendezvous.url, stop };
}

/** Handshake times (ms) from message 1 sent to message 2 processed, `n` fresh streams. */
async function handshakes(registry: string, n: number, warmup = 0): Promise<number[]> {
  const key = await generateHybridKeyPair();
  const samples: number[] = [];
  for (let i = 0; i < n + warmup; i++) {
    const bundle = await connectEnvironment({
      registry,
      environmentId: ENVIRONMENT,
      harnessKey: key.public,
      token: TOKEN,
    });
    const outcome = await connectWsLink(bundle.url);
    if (outcome.kind !== "open") throw new Error(`rendezvous refused: ${JSON.stringify(outcome)}`);
    const t0 = performance.now();
    const stream = await openNoiseHarnessStream(outcome.link, { bundle, harnessKey: key });
    const ms = performance.now() - t0;
    stream.close();
    if (i >= warmup) samples.push(ms);
  }
  return samples;
}

function perKind(
  ctx: BenchContext,
  kind: Kind,
  work: (registry: string) => Promise<number[]>,
): Promise<Samples> {
  if (kind === "upstream" && "skipped" in ctx.upstream) {
    return Promise.resolve({ skipped: ctx.upstream.skipped });
  }
  return guarded(ctx, kind, async () => {
    const environment = await startEnvironment(ctx, kind);
    try {
      return await work(environment.registry);
    } finally {
      await environment.stop();
    }
  });
}

/**
 * Noise handshake latency through our rendezvous: our executor vs upstream's.
 *
 * @example
 * ```ts
 * const line = await e5HandshakeLine(ctx);
 * ```
 */
export async function e5HandshakeLine(ctx: BenchContext): Promise<LineResult> {
  const n = size(ctx, 12, 60);
  const rounds = 4;
  const environments: Partial<Record<Kind, { registry: string; stop(): Promise<void> }>> = {};
  let results: Record<Kind, Samples>;
  try {
    // Both environments stay up for the whole line and take turns, so load drift hits both.
    results = await alternateRounds(
      ctx,
      {
        ours: [],
        upstream: "skipped" in ctx.upstream ? { skipped: ctx.upstream.skipped } : [],
      },
      rounds,
      async (kind) => {
        const first = environments[kind] === undefined;
        const environment = environments[kind] ??= await startEnvironment(ctx, kind);
        // The first handshakes of a fresh process warm up its JIT (and the rendezvous').
        return await handshakes(environment.registry, n / rounds, first ? 10 : 0);
      },
    );
  } finally {
    for (const environment of Object.values(environments)) await environment.stop();
  }
  const { ours: us, upstream } = results;
  return makeLine({
    id: "e5_handshake",
    title: "E5 Noise handshake (msg 1 -> /validate -> msg 2)",
    unit: "ms",
    better: "lower",
    us,
    floor: { skipped: "a cleartext stream has no handshake" },
    floorLabel: "-",
    upstream,
    targets: [{ ratio: "upstream", op: "<=", value: 2 }],
    note:
      "harness = our client in the bench process; both executors validate with our rendezvous; alternating rounds after 10 warm-up handshakes each",
  });
}

/**
 * Output throughput of one E5 Noise stream: our executor vs our cleartext relay (floor) and vs
 * upstream's executor, same client code, same rendezvous binary.
 *
 * @example
 * ```ts
 * const line = await e5ThroughputLine(ctx);
 * ```
 */
export async function e5ThroughputLine(ctx: BenchContext): Promise<LineResult> {
  const bytes = size(ctx, 16, 64) * 1048576;
  const reps = size(ctx, 1, 3);
  const connect = (registry: string) => async () =>
    new RpcClient(
      transportChannel(
        await environmentConnector({ registry, environmentId: ENVIRONMENT, token: TOKEN }).open(),
      ),
    );
  const run = (registry: string) =>
    outputThroughput(connect(registry), { bytes, reps, cwd: ctx.tmp });
  const us = await perKind(ctx, "ours", run);
  const upstream = await perKind(ctx, "upstream", run);
  const floor = await guarded(ctx, "cleartext relay", async () => {
    const relay = await startRelay(0);
    try {
      return await outputThroughput(() => relayClient(relay.registry), {
        bytes,
        reps,
        cwd: ctx.tmp,
      });
    } finally {
      await relay.stop();
    }
  });
  return makeLine({
    id: "e5_throughput",
    title: `E5 Noise stream output ${bytes / 1048576}M`,
    unit: "MiB/s",
    better: "higher",
    us,
    floor,
    floorLabel: "our cleartext (seed-era) relay stream through the same rendezvous",
    upstream,
    targets: [{ ratio: "floor", op: ">=", value: 0.5 }],
  });
}
