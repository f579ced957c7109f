/**
 * Benchmark line: `fs/open` + sequential 1 MiB `fs/readBlock` download of a large file (the
 * Codex client's streaming convention) vs reading it locally.
 * @module
 */
import { RpcClient, RpcError } from "./_bench_rpc.ts";
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
import { pathToFileURL } from "node:url";

const BLOCK = 1048576;

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
    const ms = since(t0);
    if (offset !== expected) throw new Error(`downloaded ${offset} of ${expected} bytes`);
    return mibPerSec(expected, ms);
  } finally {
    await client.close();
  }
}

/**
 * `fs/readBlock` download throughput in MiB/s.
 *
 * @example
 * ```ts
 * const line = await downloadLine(ctx);
 * ```
 */
export async function downloadLine(ctx: BenchContext): Promise<LineResult> {
  const bytes = size(ctx, 32, 256) * BLOCK;
  const reps = size(ctx, 1, 3);
  const path = `${ctx.tmp}/download.bin`;
  {
    // Incompressible content, written once; every reader then hits the page cache alike.
    using file = await Deno.open(path, { write: true, create: true, truncate: true });
    const block = new Uint8Array(BLOCK);
    for (let i = 0; i < bytes / BLOCK; i++) {
      for (let j = 0; j < BLOCK; j += 65536) crypto.getRandomValues(block.subarray(j, j + 65536));
      let written = 0;
      while (written < BLOCK) written += await file.write(block.subarray(written));
    }
  }
  const { us, upstream } = await perServer(ctx, async (server) => {
    try {
      return [await download(server.url, path, bytes)];
    } catch (error) {
      if (error instanceof RpcError && error.code === -32601) {
        throw new Error("fs/open or fs/readBlock is not served yet");
      }
      throw error;
    }
  }, { rounds: reps });
  const floor = await guarded(ctx, "floor", async () => {
    const samples: number[] = [];
    for (let r = 0; r < reps; r++) {
      const t0 = performance.now();
      using file = await Deno.open(path);
      const buffer = new Uint8Array(BLOCK);
      let got = 0;
      for (;;) {
        const n = await file.read(buffer);
        if (n === null) break;
        got += n;
      }
      if (got !== bytes) throw new Error(`read ${got} of ${bytes} bytes`);
      samples.push(mibPerSec(bytes, since(t0)));
    }
    return samples;
  });
  await Deno.remove(path);
  return makeLine({
    id: "readblock_download",
    title: `fs/readBlock download of ${bytes / BLOCK} MiB`,
    unit: "MiB/s",
    better: "higher",
    us,
    floor,
    floorLabel: "reading the same file locally in 1 MiB reads (page cache warm)",
    upstream,
    targets: [{ ratio: "upstream", op: ">=", value: 1 }],
  });
}
