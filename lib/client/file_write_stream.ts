/**
 * Block-wise upload (capability `fileWriteStreaming`): `fs/open {mode: "replace"}`, then
 * `fs/writeBlock` with a few blocks in flight, then `fs/close`. Memory stays at `writeAhead`
 * blocks whatever the file size, so files of any size upload.
 * @module
 */
import { Method } from "../protocol/methods.ts";
import { encodeBase64 } from "../util/base64.ts";

/**
 * Largest block `fs/writeBlock` accepts (1 MiB).
 *
 * @example
 * ```ts
 * import type { ExecServerClient } from "./client.ts";
 * declare const client: ExecServerClient;
 * declare const source: ReadableStream<Uint8Array>;
 * declare const uri: string;
 * await writeFileStream(client, uri, source, { blockSize: MAX_WRITE_BLOCK });
 * ```
 */
export const MAX_WRITE_BLOCK = 1024 * 1024;

/**
 * Options of {@link writeFileStream}.
 *
 * @example
 * ```ts
 * let written = 0;
 * const options: WriteFileStreamOptions = { writeAhead: 4, onProgress: (n) => written += n };
 * ```
 */
export interface WriteFileStreamOptions {
  /** Bytes per `fs/writeBlock` (default and maximum 1 MiB). */
  blockSize?: number;
  /** Blocks written concurrently (default 4), to keep the link busy. */
  writeAhead?: number;
  /** Called with each block's size once the server has written it. */
  onProgress?(bytes: number): void;
}

interface Caller {
  call(method: string, params: unknown): Promise<unknown>;
}

/** Re-chunks a byte stream into blocks of exactly `size` bytes (the last may be shorter). */
async function* blocks(source: ReadableStream<Uint8Array>, size: number) {
  let buffer = new Uint8Array(size);
  let filled = 0;
  for await (const chunk of source) {
    let used = 0;
    while (used < chunk.length) {
      const n = Math.min(size - filled, chunk.length - used);
      buffer.set(chunk.subarray(used, used + n), filled);
      filled += n;
      used += n;
      if (filled === size) {
        yield buffer;
        buffer = new Uint8Array(size);
        filled = 0;
      }
    }
  }
  if (filled > 0) yield buffer.subarray(0, filled);
}

/**
 * Uploads `source` to `uri`, replacing the file (it is truncated when the upload starts). A
 * lost connection fails the upload: re-opening would truncate what was already written.
 * Resolves with the number of bytes written.
 *
 * @example
 * ```ts
 * import type { ExecServerClient } from "./client.ts";
 * declare const client: ExecServerClient;
 * const file = await Deno.open("big.iso");
 * await writeFileStream(client, "file:///srv/big.iso", file.readable);
 * ```
 */
export async function writeFileStream(
  caller: Caller,
  uri: string,
  source: ReadableStream<Uint8Array>,
  options: WriteFileStreamOptions = {},
): Promise<number> {
  const blockSize = Math.max(1, Math.min(options.blockSize ?? MAX_WRITE_BLOCK, MAX_WRITE_BLOCK));
  const writeAhead = Math.max(1, options.writeAhead ?? 4);
  // Some servers cap handle ids at 32 bytes; a dashless UUID is exactly that.
  const handleId = crypto.randomUUID().replaceAll("-", "");
  await caller.call(Method.fsOpen, { handleId, path: uri, mode: "replace" });
  const inflight = new Set<Promise<void>>();
  let failure: unknown = null;
  let offset = 0;
  try {
    for await (const block of blocks(source, blockSize)) {
      if (failure !== null) break;
      const at = offset;
      offset += block.length;
      const write: Promise<void> = caller.call(Method.fsWriteBlock, {
        handleId,
        offset: at,
        chunk: encodeBase64(block),
      }).then(
        () => options.onProgress?.(block.length),
        (err) => {
          failure ??= err;
        },
      ).finally(() => inflight.delete(write));
      inflight.add(write);
      if (inflight.size >= writeAhead) await Promise.race(inflight);
    }
    await Promise.all(inflight);
    if (failure !== null) throw failure;
  } finally {
    await caller.call(Method.fsClose, { handleId }).catch(() => {});
  }
  return offset;
}
