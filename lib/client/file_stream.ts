/**
 * Block-wise download of a remote file: `fs/open`, then `fs/readBlock` a few blocks ahead, as a
 * `ReadableStream` whose pull drives the requests, so memory stays at `readAhead` blocks.
 * @module
 */
import { Method } from "../protocol/methods.ts";
import { decodeBase64 } from "../util/base64.ts";
import { RemoteCallError } from "./errors.ts";

/**
 * Largest block `fs/readBlock` serves (1 MiB).
 *
 * @example
 * ```ts
 * import type { ExecServerClient } from "./client.ts";
 * declare const client: ExecServerClient;
 * client.readFileStream("/var/log/big.log", { blockSize: MAX_READ_BLOCK / 4 });
 * ```
 */
export const MAX_READ_BLOCK = 1024 * 1024;

/**
 * Options of {@link readFileStream}.
 *
 * @example
 * ```ts
 * const options: ReadFileStreamOptions = { readAhead: 2, offset: 4096 };
 * ```
 */
export interface ReadFileStreamOptions {
  /** Bytes per `fs/readBlock` (default and maximum 1 MiB). */
  blockSize?: number;
  /** Blocks requested ahead of the consumer (default 4), to keep the link busy. */
  readAhead?: number;
  /** Start offset (default 0). */
  offset?: number;
}

interface Caller {
  call(method: string, params: unknown): Promise<unknown>;
}

interface Block {
  chunk: Uint8Array;
  eof: boolean;
}

function newHandleId(): string {
  // Some servers cap handle ids at 32 bytes; a dashless UUID is exactly that.
  return crypto.randomUUID().replaceAll("-", "");
}

/**
 * @example
 * ```ts
 * import type { ExecServerClient } from "./client.ts";
 * declare const client: ExecServerClient;
 * const stream = readFileStream(client, "file:///etc/hosts", { readAhead: 2 });
 * for await (const chunk of stream) await Deno.stdout.write(chunk);
 * ```
 */
export function readFileStream(
  caller: Caller,
  uri: string,
  options: ReadFileStreamOptions = {},
): ReadableStream<Uint8Array> {
  const blockSize = Math.min(options.blockSize ?? MAX_READ_BLOCK, MAX_READ_BLOCK);
  const readAhead = Math.max(1, options.readAhead ?? 4);
  let nextOffset = options.offset ?? 0;
  let handle: Promise<string> | null = null;
  const inflight: Promise<Block>[] = [];
  let finished = false;

  function openHandle(): Promise<string> {
    handle ??= (async () => {
      const handleId = newHandleId();
      await caller.call(Method.fsOpen, { handleId, path: uri });
      return handleId;
    })();
    return handle;
  }

  async function readAt(offset: number): Promise<Block> {
    for (let attempt = 0;; attempt++) {
      const current = openHandle();
      const handleId = await current;
      try {
        const result = await caller.call(Method.fsReadBlock, {
          handleId,
          offset,
          len: blockSize,
        }) as {
          chunk: string;
          eof: boolean;
        };
        return { chunk: decodeBase64(result.chunk), eof: result.eof };
      } catch (err) {
        // Handles belong to the connection: after a reconnect the server no longer knows ours,
        // so open the path again and read on from the same offset.
        const lostHandle = err instanceof RemoteCallError && err.notFound &&
          /unknown file/.test(err.message);
        if (!lostHandle || attempt >= 3) throw err;
        if (handle === current) handle = null;
      }
    }
  }

  function fill(): void {
    while (!finished && inflight.length < readAhead) {
      const block = readAt(nextOffset);
      block.catch(() => {});
      inflight.push(block);
      nextOffset += blockSize;
    }
  }

  async function release(): Promise<void> {
    finished = true;
    inflight.length = 0;
    if (!handle) return;
    const handleId = await handle.catch(() => null);
    if (handleId) await caller.call(Method.fsClose, { handleId }).catch(() => {});
  }

  return new ReadableStream<Uint8Array>({
    async start() {
      // Open eagerly so a missing path fails the stream before the first read.
      await openHandle();
    },
    async pull(controller) {
      fill();
      try {
        const block = await inflight.shift()!;
        if (block.chunk.length > 0) controller.enqueue(block.chunk);
        if (block.eof) {
          await release();
          controller.close();
        }
      } catch (err) {
        await release();
        controller.error(err);
      }
    },
    async cancel() {
      await release();
    },
  }, { highWaterMark: 0 });
}
