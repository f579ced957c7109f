/**
 * What every benchmark line gets: sizes for `--quick` or full runs, the upstream binary (or why
 * it is missing), and a helper that runs one measurement against ours and upstream's server.
 * @module
 */
import type { ServerProcess } from "./_bench_rpc.ts";
import type { Samples } from "./_bench_stats.ts";
import { startOurs, startUpstream } from "./_bench_servers.ts";

/** Shared state of one benchmark run. */
export interface BenchContext {
  quick: boolean;
  upstream: { binary: string } | { skipped: string };
  /** A scratch directory removed at the end of the run. */
  tmp: string;
  log(line: string): void;
}

/** Pick the quick or the full value. */
export function size<T>(ctx: BenchContext, quick: T, full: T): T {
  return ctx.quick ? quick : full;
}

/**
 * Runs `measure` against a fresh server of each kind (ours, then upstream's), turning a
 * failure into a skipped column with the reason instead of aborting the whole run.
 *
 * @example
 * ```ts
 * const { us, upstream } = await perServer(ctx, (server) => rpcSamples(server.url, 100));
 * ```
 */
export async function perServer(
  ctx: BenchContext,
  measure: (server: ServerProcess, kind: "us" | "upstream") => Promise<number[]>,
): Promise<{ us: Samples; upstream: Samples }> {
  const us = await guarded(ctx, "us", async () => {
    await using server = await startOurs();
    return await measure(server, "us");
  });
  const upstream = "skipped" in ctx.upstream ? { skipped: ctx.upstream.skipped } : await guarded(
    ctx,
    "upstream",
    async () => {
      await using server = await startUpstream((ctx.upstream as { binary: string }).binary);
      return await measure(server, "upstream");
    },
  );
  return { us, upstream };
}

/**
 * Runs one column's measurement; an error becomes `{ skipped: "error: ..." }`.
 *
 * @example
 * ```ts
 * const floor = await guarded(ctx, "floor", () => echoSamples(100));
 * ```
 */
export async function guarded(
  ctx: BenchContext,
  label: string,
  fn: () => Promise<number[]>,
): Promise<Samples> {
  try {
    return await fn();
  } catch (error) {
    const message = (error as Error).message.split("\n").slice(0, 3).join(" ");
    ctx.log(`  ${label} failed: ${message}`);
    return { skipped: `error: ${message}` };
  }
}

/** Milliseconds since `t0` (performance clock). */
export function since(t0: number): number {
  return performance.now() - t0;
}

/**
 * Decoded byte count of a standard padded base64 string, without decoding it.
 *
 * @example
 * ```ts
 * base64Bytes("aGk="); // 2
 * ```
 */
export function base64Bytes(b64: string): number {
  const padding = b64.endsWith("==") ? 2 : b64.endsWith("=") ? 1 : 0;
  return (b64.length / 4) * 3 - padding;
}

/** MiB per second for `bytes` moved in `ms`. */
export function mibPerSec(bytes: number, ms: number): number {
  return bytes / 1048576 / (ms / 1000);
}
