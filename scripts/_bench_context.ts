/**
 * What every benchmark line gets: sizes for `--quick` or full runs, the upstream binary (or why
 * it is missing), and a helper that runs one measurement against ours and upstream's server.
 * @module
 */
import type { ServerProcess } from "./_server_process.ts";
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

/**
 * Picks the quick or the full value.
 *
 * @example
 * ```ts
 * const n = size(ctx, 300, 3000);
 * ```
 */
export function size<T>(ctx: BenchContext, quick: T, full: T): T {
  return ctx.quick ? quick : full;
}

/**
 * Runs `measure` for every column that is not skipped, `rounds` times, one column after the
 * other in the same order every round, so drift in machine load hits all columns alike. A column
 * that fails once is skipped with the reason from then on; the others go on.
 *
 * @example
 * ```ts
 * const samples = await alternateRounds(ctx, { a: [], b: [] }, 3, () => Promise.resolve([1]));
 * ```
 */
export async function alternateRounds<K extends string>(
  ctx: BenchContext,
  columns: Record<K, Samples>,
  rounds: number,
  measure: (column: K, round: number) => Promise<number[]>,
): Promise<Record<K, Samples>> {
  for (let round = 0; round < rounds; round++) {
    for (const column of Object.keys(columns) as K[]) {
      const samples = columns[column];
      if (!Array.isArray(samples)) continue;
      try {
        samples.push(...await measure(column, round));
      } catch (error) {
        columns[column] = failed(ctx, column, error);
      }
    }
  }
  return columns;
}

/**
 * A skipped column for `error` (its first three lines), logged under `label`.
 *
 * @example
 * ```ts
 * const column = failed(ctx, "floor", new Error("no echo server"));
 * ```
 */
export function failed(ctx: BenchContext, label: string, error: unknown): Samples {
  const message = (error as Error).message.split("\n").slice(0, 3).join(" ");
  ctx.log(`  ${label} failed: ${message}`);
  return { skipped: `error: ${message}` };
}

/**
 * Runs `measure` against a fresh server of each kind (ours and upstream's, both up for the whole
 * line), alternating them for `rounds` rounds so drift in machine load hits both columns alike.
 * A failure turns that column into a skipped one with the reason instead of aborting the run.
 *
 * @example
 * ```ts
 * const { us, upstream } = await perServer(ctx, (server) => rpcSamples(server.url, 100));
 * ```
 */
export async function perServer(
  ctx: BenchContext,
  measure: (server: ServerProcess, kind: "us" | "upstream", round: number) => Promise<number[]>,
  options: { rounds?: number; ourArgs?: string[] } = {},
): Promise<{ us: Samples; upstream: Samples }> {
  const servers: Partial<Record<"us" | "upstream", ServerProcess>> = {};
  const results: Record<"us" | "upstream", Samples> = {
    us: [],
    upstream: "skipped" in ctx.upstream ? { skipped: ctx.upstream.skipped } : [],
  };
  try {
    try {
      servers.us = await startOurs(options.ourArgs);
    } catch (error) {
      results.us = failed(ctx, "us", error);
    }
    if (!("skipped" in ctx.upstream)) {
      try {
        servers.upstream = await startUpstream(ctx.upstream.binary);
      } catch (error) {
        results.upstream = failed(ctx, "upstream", error);
      }
    }
    return await alternateRounds(
      ctx,
      results,
      options.rounds ?? 1,
      (kind, round) => measure(servers[kind]!, kind, round),
    );
  } finally {
    await Promise.all(Object.values(servers).map((s) => s.stop()));
  }
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
    return failed(ctx, label, error);
  }
}

/**
 * Milliseconds since `t0` (performance clock).
 *
 * @example
 * ```ts
 * const t0 = performance.now();
 * since(t0);
 * ```
 */
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

/**
 * MiB per second for `bytes` moved in `ms`.
 *
 * @example
 * ```ts
 * mibPerSec(1048576, 500); // 2
 * ```
 */
export function mibPerSec(bytes: number, ms: number): number {
  return bytes / 1048576 / (ms / 1000);
}
