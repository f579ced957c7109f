/**
 * Benchmark line: a sandboxed `process/start` of `true` until `process/closed`, with the
 * `sandbox` Codex sends in `-s workspace-write`. Ours confines with bwrap + seccomp; upstream runs
 * `codex-linux-sandbox` (its own probe, then bwrap). The floor is bare `bwrap` doing the same
 * confinement from the bench process.
 * @module
 */
import { type BenchContext, guarded, perServer, since, size } from "./_bench_context.ts";
import { type LineResult, makeLine } from "./_bench_stats.ts";
import { startToClosed } from "./_bench_line_process.ts";
// The one copy of the profile Codex sends, shared with the sandbox tests.
import { workspaceWrite } from "../tests/sandbox/_profiles.ts";

async function bareBwrap(n: number, ws: string): Promise<number[]> {
  const samples: number[] = [];
  const args = [
    "--die-with-parent",
    "--new-session",
    "--ro-bind",
    "/",
    "/",
    "--dev",
    "/dev",
    "--bind",
    ws,
    ws,
    "--unshare-user",
    "--unshare-pid",
    "--unshare-ipc",
    "--unshare-net",
    "--proc",
    "/proc",
    "--cap-drop",
    "ALL",
    "--",
    "true",
  ];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const child = new Deno.Command("bwrap", { args, stdin: "null", stdout: "null", stderr: "null" })
      .spawn();
    await child.status;
    samples.push(since(t0));
  }
  return samples;
}

/**
 * `process/start true -> closed` under Codex's workspace-write sandbox.
 *
 * @example
 * ```ts
 * const line = await sandboxedSpawnLine(ctx);
 * ```
 */
export async function sandboxedSpawnLine(ctx: BenchContext): Promise<LineResult> {
  const n = size(ctx, 20, 150);
  const warm = 5;
  const ws = await Deno.makeTempDir({ dir: ctx.tmp, prefix: "sandbox-ws-" });
  await Deno.mkdir(`${ws}/.git`);
  const sandbox = workspaceWrite(ws);
  const run = async (url: string, count: number) =>
    (await startToClosed(url, { argv: ["true"], tty: false, n: count + warm, cwd: ws, sandbox }))
      .slice(warm);
  const rounds = 3;
  const { us, upstream } = await perServer(
    ctx,
    (server) => run(server.url, Math.ceil(n / rounds)),
    { rounds },
  );
  const floor = await guarded(ctx, "floor", async () => {
    await bareBwrap(warm, ws);
    return await bareBwrap(n, ws);
  });
  return makeLine({
    id: "spawn_sandboxed",
    title: "sandboxed process/start true -> closed (workspace-write, pipe)",
    unit: "ms",
    better: "lower",
    us,
    floor,
    floorLabel: "bare bwrap (ro /, writable workspace, user/pid/ipc/net namespaces) running true",
    upstream,
    targets: [{ ratio: "upstream", op: "<=", value: 1 }],
  });
}
