/**
 * Benchmark lines: one relay stream through our `rendezvous` (harness -> rendezvous -> `remote`
 * executor) vs a direct websocket to `serve`, without and with 5% frame loss.
 * @module
 */
import { RpcClient, transportChannel } from "./_bench_rpc.ts";
import { type ServerProcess, startServerProcess } from "./_server_process.ts";
import { type BenchContext, guarded, size } from "./_bench_context.ts";
import { outputThroughput } from "./_bench_line_process.ts";
import { ourRunFlags, startOurs } from "./_bench_servers.ts";
import { type LineResult, makeLine, type Samples } from "./_bench_stats.ts";
import { registryConnector, websocketConnector } from "../lib/client/mod.ts";

const ROOT = new URL("..", import.meta.url).pathname;
/** Bearer token the relay lines use (the rendezvous runs without one on loopback). */
export const RELAY_TOKEN = "bench-token";
/** Executor id of the relay lines' `remote`. */
export const RELAY_EXECUTOR_ID = "bench-executor";
const TOKEN = RELAY_TOKEN;
const EXECUTOR_ID = RELAY_EXECUTOR_ID;

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/**
 * A JSON-RPC client on a new harness stream to the relay lines' executor.
 *
 * @example
 * ```ts
 * const client = await relayClient("http://127.0.0.1:8080");
 * ```
 */
export async function relayClient(registry: string): Promise<RpcClient> {
  const connector = registryConnector({ registry, executorId: EXECUTOR_ID, token: TOKEN });
  // The executor logs "connected" before the rendezvous has marked it online (more so through
  // the lossy proxy), so a connect right after may be refused as offline for a moment.
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      return new RpcClient(transportChannel(await connector.open()));
    } catch (error) {
      if (!/executor_offline/.test(String(error)) || Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/**
 * A rendezvous (optionally behind the lossy proxy) with one `remote` executor attached.
 *
 * @example
 * ```ts
 * const relay = await startRelay(0.05);
 * await relay.stop();
 * ```
 */
export async function startRelay(
  loss: number,
  options: { proxy?: boolean; rendezvousArgs?: string[] } = {},
): Promise<
  { registry: string; pids: { rendezvous: number; remote: number }; stop(): Promise<string> }
> {
  const stops: (() => Promise<void>)[] = [];
  let proxy: ServerProcess | undefined;
  try {
    const port = freePort();
    const args = ["--listen", `http://127.0.0.1:${port}`, ...(options.rendezvousArgs ?? [])];
    if (loss > 0 || options.proxy) {
      proxy = await startServerProcess([
        Deno.execPath(),
        "run",
        "--allow-net",
        `${ROOT}scripts/_bench_lossy_proxy.ts`,
        `ws://127.0.0.1:${port}`,
        String(loss),
      ]);
      stops.push(proxy.stop);
      args.push("--public-url", proxy.url);
    }
    const rendezvous = await startServerProcess(
      [Deno.execPath(), "run", ...ourRunFlags(), `${ROOT}main.ts`, "rendezvous", ...args],
      { env: { CODEX_EXEC_SERVER_LOG: "warn" } },
    );
    stops.push(rendezvous.stop);
    const remote = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        ...ourRunFlags(),
        `${ROOT}main.ts`,
        "remote",
        "--remote",
        rendezvous.url,
        "--executor-id",
        EXECUTOR_ID,
      ],
      env: { CODEX_EXEC_SERVER_REMOTE_BEARER_TOKEN: TOKEN, CODEX_EXEC_SERVER_LOG: "info" },
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    stops.push(async () => {
      try {
        remote.kill("SIGTERM");
      } catch { /* exited */ }
      await remote.status;
    });
    const reader = remote.stderr.pipeThrough(new TextDecoderStream()).getReader();
    let log = "";
    const deadline = Date.now() + 30_000;
    while (!log.includes("connected to the rendezvous")) {
      const { value, done } = await reader.read();
      if (done || Date.now() > deadline) throw new Error(`remote did not connect:\n${log}`);
      log += value;
    }
    (async () => {
      for (;;) if ((await reader.read()).done) break;
    })().catch(() => {});
    return {
      registry: rendezvous.url,
      pids: { rendezvous: rendezvous.pid, remote: remote.pid },
      async stop() {
        let proxyStats = "";
        if (proxy) {
          proxy.child.kill("SIGTERM");
          await proxy.child.status;
        }
        for (const stop of stops.reverse()) await stop();
        proxyStats = proxy?.stderr() ?? "";
        return proxyStats;
      },
    };
  } catch (error) {
    for (const stop of stops.reverse()) await stop();
    throw error;
  }
}

/**
 * Output throughput through one relay stream vs a direct websocket; with `loss`, through the
 * lossy proxy vs the same proxy path without loss, the two alternating round by round so both
 * see the same machine load.
 *
 * @example
 * ```ts
 * const line = await relayLine(ctx, { loss: 0.05 });
 * ```
 */
export async function relayLine(ctx: BenchContext, options: { loss: number }): Promise<LineResult> {
  const bytes = size(ctx, 16, 64) * 1048576;
  const reps = size(ctx, 1, 3);
  const throughRelay = async (loss: number, runs: number, proxy: boolean) => {
    const relay = await startRelay(loss, { proxy });
    try {
      const connect = () => relayClient(relay.registry);
      return await outputThroughput(connect, { bytes, reps: runs, cwd: ctx.tmp });
    } finally {
      await relay.stop();
    }
  };
  const lossy = options.loss > 0;
  if (lossy) {
    const withLoss: number[] = [];
    const clean: number[] = [];
    const results = await guarded(ctx, "us", async () => {
      for (let r = 0; r < reps; r++) {
        withLoss.push(...await throughRelay(options.loss, 1, true));
        clean.push(...await throughRelay(0, 1, true));
      }
      return withLoss;
    });
    return makeLine({
      id: "relay_throughput_lossy",
      title: `relay stream output ${bytes / 1048576}M (${options.loss * 100}% frame loss)`,
      unit: "MiB/s",
      better: "higher",
      us: results,
      floor: Array.isArray(results) ? clean : results,
      floorLabel: "the same relay path through the same proxy with no loss (rounds alternate)",
      upstream: {
        skipped:
          "upstream has no self-hostable rendezvous (its remote mode needs a hosted registry)",
      },
      targets: [{ ratio: "floor", op: ">=", value: 0.5 }],
      note: "loss injected by a websocket proxy both ways on both legs (first 4 msgs pass)",
    });
  }
  const us: Samples = await guarded(ctx, "us", () => throughRelay(0, reps, false));
  const floor = await guarded(ctx, "floor", async () => {
    await using server = await startOurs();
    const connect = async () =>
      new RpcClient(transportChannel(await websocketConnector(server.url).open()));
    return await outputThroughput(connect, { bytes, reps, cwd: ctx.tmp });
  });
  return makeLine({
    id: "relay_throughput",
    title: `relay stream output ${bytes / 1048576}M`,
    unit: "MiB/s",
    better: "higher",
    us,
    floor,
    floorLabel: "the same output over a direct websocket to `serve` (same client transport code)",
    upstream: {
      skipped: "upstream has no self-hostable rendezvous (its remote mode needs a hosted registry)",
    },
    targets: [{ ratio: "floor", op: ">=", value: 0.5 }],
  });
}
