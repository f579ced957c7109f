/**
 * Benchmark line: `fs/open {mode: "replace"}` + 1 MiB `fs/writeBlock` upload (4 blocks in
 * flight, as our client sends them) on ours vs upstream, against the same upload to a sink
 * (`_bench_echo.ts sink`: a bare websocket server that answers each request unread) as the floor: what
 * the client and the loopback carry. Beside it, in the note: a `fs/readBlock` download of the
 * same file from ours (the other direction, `fs get`; it was the floor once, but measures our own
 * read path, not a bound on uploads) and one `fs put` of the file through our CLI with its peak RSS
 * (flat: the upload streams).
 * @module
 */
import { pathToFileURL } from "node:url";
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
import { type LineResult, makeLine, summarize } from "./_bench_stats.ts";
import { ourRunFlags, rssBytes, startOurs } from "./_bench_servers.ts";
import { startServerProcess } from "./_server_process.ts";

const BLOCK = 1048576;
const IN_FLIGHT = 4;
const ROOT = new URL("..", import.meta.url).pathname;

function blockOf(index: number): string {
  // Distinct, incompressible-looking content per block, computed once per run.
  const bytes = new Uint8Array(BLOCK);
  for (let j = 0; j < BLOCK; j += 65536) crypto.getRandomValues(bytes.subarray(j, j + 65536));
  bytes[0] = index & 0xff;
  return bytes.toBase64();
}

/** MiB/s of one upload; `check` (not for the sink, which writes nothing) verifies the file. */
async function upload(
  url: string,
  path: string,
  blocks: string[],
  count: number,
  check = true,
): Promise<number> {
  const client = await RpcClient.connect(url);
  try {
    await client.initialize();
    const handleId = crypto.randomUUID().replaceAll("-", "");
    const t0 = performance.now();
    await client.call("fs/open", { handleId, path: pathToFileURL(path).href, mode: "replace" });
    const inflight = new Set<Promise<unknown>>();
    for (let i = 0; i < count; i++) {
      const write: Promise<unknown> = client.call("fs/writeBlock", {
        handleId,
        offset: i * BLOCK,
        chunk: blocks[i % blocks.length],
      }).finally(() => inflight.delete(write));
      inflight.add(write);
      if (inflight.size >= IN_FLIGHT) await Promise.race(inflight);
    }
    await Promise.all(inflight);
    await client.call("fs/close", { handleId });
    const ms = since(t0);
    const written = check ? (await Deno.stat(path)).size : count * BLOCK;
    if (written !== count * BLOCK) throw new Error(`uploaded ${written} of ${count * BLOCK} bytes`);
    return mibPerSec(written, ms);
  } finally {
    await client.close();
  }
}

async function download(url: string, path: string, expected: number): Promise<number> {
  const client = await RpcClient.connect(url);
  try {
    await client.initialize();
    const handleId = crypto.randomUUID().replaceAll("-", "");
    const t0 = performance.now();
    await client.call("fs/open", { handleId, path: pathToFileURL(path).href });
    let offset = 0;
    for (;;) {
      const block = await client.call("fs/readBlock", { handleId, offset, len: BLOCK });
      offset += base64Bytes(block.chunk as string);
      if (block.eof) break;
    }
    await client.call("fs/close", { handleId });
    if (offset !== expected) throw new Error(`downloaded ${offset} of ${expected} bytes`);
    return mibPerSec(expected, since(t0));
  } finally {
    await client.close();
  }
}

/** One `fs put` through the CLI: MiB/s including startup, and the CLI's and server's peak RSS. */
async function cliPut(ctx: BenchContext, source: string, bytes: number): Promise<string> {
  await using server = await startOurs();
  const target = `${ctx.tmp}/put-target.bin`;
  const t0 = performance.now();
  const out = await new Deno.Command("/usr/bin/time", {
    args: [
      "-v",
      Deno.execPath(),
      "run",
      ...ourRunFlags(),
      `${ROOT}main.ts`,
      "fs",
      "--url",
      server.url,
      "-q",
      "put",
      source,
      target,
    ],
    env: { CODEX_EXEC_SERVER_LOG: "warn" },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  const ms = since(t0);
  const stderr = new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`fs put failed: ${stderr.slice(-300)}`);
  const written = (await Deno.stat(target)).size;
  if (written !== bytes) throw new Error(`fs put wrote ${written} of ${bytes} bytes`);
  const cliKiB = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(stderr)?.[1]);
  const serverMiB = (await rssBytes(server.pid)) / BLOCK;
  await Deno.remove(target);
  return `fs put of ${bytes / BLOCK} MiB through the CLI: ${
    mibPerSec(bytes, ms).toFixed(0)
  } MiB/s ` +
    `incl. startup, CLI peak RSS ${(cliKiB / 1024).toFixed(0)} MiB, server RSS after ` +
    `${serverMiB.toFixed(0)} MiB`;
}

/**
 * `fs/writeBlock` upload throughput in MiB/s.
 *
 * @example
 * ```ts
 * const line = await uploadLine(ctx);
 * ```
 */
export async function uploadLine(ctx: BenchContext): Promise<LineResult> {
  const count = size(ctx, 64, 1024);
  const reps = size(ctx, 1, 3);
  const bytes = count * BLOCK;
  const blocks = Array.from({ length: 16 }, (_, i) => blockOf(i));
  const path = `${ctx.tmp}/upload.bin`;
  const { us, upstream } = await perServer(ctx, async (server) => {
    const rate = await upload(server.url, path, blocks, count);
    return [rate];
  }, { rounds: reps });
  const floor = await guarded(ctx, "floor", async () => {
    await using sink = await startServerProcess(
      [Deno.execPath(), "run", "--allow-net", `${ROOT}scripts/_bench_echo.ts`, "sink"],
      { cwd: ROOT },
    );
    const samples: number[] = [];
    for (let r = 0; r < reps; r++) samples.push(await upload(sink.url, path, blocks, count, false));
    return samples;
  });
  // The file the last upload left is what the download reads and the CLI puts.
  const notes: string[] = [];
  try {
    await using server = await startOurs();
    const rates: number[] = [];
    for (let r = 0; r < reps; r++) rates.push(await download(server.url, path, bytes));
    notes.push(
      `fs/readBlock download of the same file from ours: ${
        summarize(rates).median.toFixed(0)
      } MiB/s`,
    );
  } catch (error) {
    ctx.log(`  download failed: ${(error as Error).message}`);
  }
  try {
    notes.push(await cliPut(ctx, path, bytes));
  } catch (error) {
    ctx.log(`  fs put failed: ${(error as Error).message}`);
  }
  for (const text of notes) ctx.log(`  ${text}`);
  const note = notes.length > 0 ? notes.join("; ") : undefined;
  await Deno.remove(path).catch(() => {});
  return makeLine({
    id: "writeblock_upload",
    title: `fs/writeBlock upload of ${count} MiB (${IN_FLIGHT} blocks in flight)`,
    unit: "MiB/s",
    better: "higher",
    us,
    floor,
    floorLabel: "the same upload to a websocket sink that answers each request unread " +
      "(what the client and loopback carry)",
    upstream,
    targets: [{ ratio: "upstream", op: ">=", value: 1 }],
    ...(note ? { note } : {}),
  });
}
