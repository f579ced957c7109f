/**
 * Benchmark lines about processes: `process/start` of `true` until `process/closed` (pipe and
 * PTY) vs `Deno.Command` spawn + wait, and output throughput of `head -c N /dev/zero` through
 * `process/output` vs reading the same pipe directly.
 * @module
 */
import { RpcClient } from "./_bench_rpc.ts";
import {
  base64Bytes,
  type BenchContext,
  guarded,
  mibPerSec,
  perServer,
  since,
  size,
} from "./_bench_context.ts";
import { type LineResult, makeLine } from "./_bench_stats.ts";

const ENV = { PATH: "/usr/local/bin:/usr/bin:/bin", TERM: "dumb" };

/**
 * Runs argv `n` times to `process/closed` on one new connection (a `ws://` URL or a connect
 * function); returns ms per process.
 *
 * @example
 * ```ts
 * const ms = await startToClosed("ws://127.0.0.1:1234", { argv: ["true"], tty: false, n: 10,
 *   cwd: "/tmp" });
 * ```
 */
export async function startToClosed(
  connect: string | (() => Promise<RpcClient>),
  options: { argv: string[]; tty: boolean; n: number; cwd: string; sandbox?: unknown },
  onOutput?: (chunkBase64: string) => void,
): Promise<number[]> {
  const client = typeof connect === "string" ? await RpcClient.connect(connect) : await connect();
  try {
    await client.initialize();
    let waiting: { id: string; resolve: () => void } | null = null;
    client.onNotification = (method, params) => {
      if (method === "process/output") onOutput?.(params.chunk as string);
      else if (method === "process/closed" && waiting && params.processId === waiting.id) {
        waiting.resolve();
      }
    };
    const samples: number[] = [];
    for (let i = 0; i < options.n; i++) {
      const id = `bench-${i}`;
      const { promise, resolve } = Promise.withResolvers<void>();
      waiting = { id, resolve };
      const t0 = performance.now();
      await client.call("process/start", {
        processId: id,
        argv: options.argv,
        cwd: new URL(`file://${options.cwd}`).href,
        env: ENV,
        tty: options.tty,
        ...(options.sandbox ? { sandbox: options.sandbox } : {}),
      });
      await promise;
      samples.push(since(t0));
    }
    return samples;
  } finally {
    await client.close();
  }
}

async function denoCommandSpawn(n: number): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const child = new Deno.Command("true", { stdin: "null", stdout: "null", stderr: "null" })
      .spawn();
    await child.status;
    samples.push(since(t0));
  }
  return samples;
}

/**
 * `process/start` of `true` until `process/closed`, pipe or PTY.
 *
 * @example
 * ```ts
 * const line = await spawnLine(ctx, { tty: false });
 * ```
 */
export async function spawnLine(ctx: BenchContext, options: { tty: boolean }): Promise<LineResult> {
  const n = size(ctx, 30, 300);
  const warm = 10;
  const run = async (url: string, count: number) =>
    (await startToClosed(url, { argv: ["true"], tty: options.tty, n: count + warm, cwd: ctx.tmp }))
      .slice(warm);
  const rounds = 3;
  const { us, upstream } = await perServer(
    ctx,
    (server) => run(server.url, Math.ceil(n / rounds)),
    {
      rounds,
    },
  );
  const floor = await guarded(ctx, "floor", async () => {
    await denoCommandSpawn(warm);
    return await denoCommandSpawn(n);
  });
  const mode = options.tty ? "pty" : "pipe";
  return makeLine({
    id: `spawn_${mode}`,
    title: `process/start true -> closed (${mode})`,
    unit: "ms",
    better: "lower",
    us,
    floor,
    floorLabel: 'Deno.Command("true").spawn() + status in the bench process',
    upstream,
    targets: [
      { ratio: "floor", op: "<=", value: 2 },
      { ratio: "upstream", op: "<=", value: 1 },
    ],
  });
}

/**
 * MiB/s of `head -c BYTES /dev/zero` output arriving as `process/output`, `reps` times.
 *
 * @example
 * ```ts
 * await outputThroughput("ws://127.0.0.1:1234", { bytes: 1 << 20, reps: 1, cwd: "/tmp" });
 * ```
 */
export async function outputThroughput(
  connect: string | (() => Promise<RpcClient>),
  options: { bytes: number; reps: number; cwd: string },
): Promise<number[]> {
  const samples: number[] = [];
  for (let r = 0; r < options.reps; r++) {
    let got = 0;
    const [ms] = await startToClosed(
      connect,
      {
        argv: ["head", "-c", String(options.bytes), "/dev/zero"],
        tty: false,
        n: 1,
        cwd: options.cwd,
      },
      (chunk) => got += base64Bytes(chunk),
    );
    if (got !== options.bytes) throw new Error(`received ${got} of ${options.bytes} bytes`);
    samples.push(mibPerSec(options.bytes, ms));
  }
  return samples;
}

/**
 * Output throughput of `head -c N /dev/zero` through `process/output`, in MiB/s.
 *
 * @example
 * ```ts
 * const line = await outputLine(ctx);
 * ```
 */
export async function outputLine(ctx: BenchContext): Promise<LineResult> {
  const bytes = size(ctx, 32, 256) * 1048576;
  const reps = size(ctx, 1, 3);
  const { us, upstream } = await perServer(
    ctx,
    (server) => outputThroughput(server.url, { bytes, reps: 1, cwd: ctx.tmp }),
    { rounds: reps },
  );
  const floor = await guarded(ctx, "floor", async () => {
    const samples: number[] = [];
    for (let r = 0; r < reps; r++) {
      const t0 = performance.now();
      const child = new Deno.Command("head", {
        args: ["-c", String(bytes), "/dev/zero"],
        stdout: "piped",
        stderr: "null",
      }).spawn();
      let got = 0;
      for await (const chunk of child.stdout) got += chunk.byteLength;
      await child.status;
      if (got !== bytes) throw new Error(`read ${got} of ${bytes} bytes`);
      samples.push(mibPerSec(bytes, since(t0)));
    }
    return samples;
  });
  return makeLine({
    id: "output_throughput",
    title: `output throughput head -c ${bytes / 1048576}M /dev/zero`,
    unit: "MiB/s",
    better: "higher",
    us,
    floor,
    floorLabel: "the same command's stdout pipe read directly in the bench process",
    upstream,
    targets: [{ ratio: "upstream", op: ">=", value: 1 }],
  });
}
