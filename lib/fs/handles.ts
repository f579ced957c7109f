/**
 * Block handles (`fs/open`, `fs/readBlock`, `fs/writeBlock`, `fs/close`): client-chosen ids, at
 * most 128 per connection, positional reads and writes of at most 1 MiB, closed with the
 * connection.
 * @module
 */
import type fsp from "node:fs/promises";
import { ErrorCode, invalidParams, invalidRequest, RpcError } from "../jsonrpc/errors.ts";
import { Base64Error, decodeBase64, encodeBase64 } from "../util/base64.ts";
import { ioError } from "./io_error.ts";
import { pwriteOffThread } from "./_pwrite.ts";
import { type FollowOptions, type OpenMode, openRegularFile } from "./read_write.ts";

/**
 * Open handles allowed per connection.
 *
 * @example
 * ```ts
 * import type { FileHandleTable } from "./handles.ts";
 * declare const table: FileHandleTable;
 * if (table.size >= MAX_OPEN_HANDLES) console.log("close a handle first");
 * ```
 */
export const MAX_OPEN_HANDLES = 128;
/**
 * Largest `len` of one `fs/readBlock`.
 *
 * @example
 * ```ts
 * import type { FileHandleTable } from "./handles.ts";
 * declare const table: FileHandleTable;
 * await table.readBlock("h1", { offset: 0, len: MAX_BLOCK_LENGTH });
 * ```
 */
export const MAX_BLOCK_LENGTH = 1024 * 1024;
/**
 * Longest handle id, in UTF-8 bytes.
 *
 * @example
 * ```ts
 * const id = crypto.randomUUID().replaceAll("-", ""); // 32 bytes: fits MAX_HANDLE_ID_BYTES
 * ```
 */
export const MAX_HANDLE_ID_BYTES = 32;

/**
 * 1 MiB buffers that uploaded blocks are decoded into, kept between writes: allocating a fresh one
 * per block (page faults, zeroing, collection) cost more than decoding it. At most six are kept.
 */
const spareBlocks: Uint8Array<ArrayBuffer>[] = [];
const MAX_SPARE_BLOCKS = 6;

interface OpenHandle {
  /** Undefined while the open is in flight (the slot is reserved synchronously). */
  file?: fsp.FileHandle;
  mode: OpenMode;
  /** Reads on one handle run one after another: a positional read is seek + read here. */
  tail: Promise<unknown>;
}

/** The `fs/readBlock` result. */
export interface Block {
  chunk: string;
  eof: boolean;
}

/**
 * One connection's open file handles. Dispose it when the connection ends.
 *
 * @example
 * ```ts
 * await using handles = new FileHandleTable();
 * await handles.open("h1", "/tmp/big.bin");
 * const { chunk, eof } = await handles.readBlock("h1", { offset: 0, len: 1024 * 1024 });
 * await handles.close("h1");
 * ```
 */
export class FileHandleTable implements AsyncDisposable {
  #handles = new Map<string, OpenHandle>();
  #disposed = false;

  /** Number of open (or opening) handles. */
  get size(): number {
    return this.#handles.size;
  }

  /**
   * Opens `path` under `handleId`. Directories and FIFOs are refused without blocking; the file
   * stays readable under this handle even if its path is later replaced.
   */
  async open(
    handleId: string,
    path: string,
    options: FollowOptions & {
      mode?: OpenMode;
      /** Opens the file some other way (a sandboxed open); default `openRegularFile`. */
      opener?: () => Promise<fsp.FileHandle>;
    } = {},
  ): Promise<void> {
    if (handleId === "") throw invalidRequest("file handle id cannot be empty");
    if (new TextEncoder().encode(handleId).length > MAX_HANDLE_ID_BYTES) {
      throw invalidRequest(`file handle ID must not exceed ${MAX_HANDLE_ID_BYTES} bytes`);
    }
    if (this.#handles.has(handleId)) {
      throw invalidRequest(`file handle \`${handleId}\` already exists`);
    }
    if (this.#handles.size >= MAX_OPEN_HANDLES) {
      throw invalidRequest(
        `at most ${MAX_OPEN_HANDLES} file handles may be open per connection`,
      );
    }
    const slot: OpenHandle = { tail: Promise.resolve(), mode: options.mode ?? "read" };
    this.#handles.set(handleId, slot);
    try {
      slot.file = await (options.opener ?? (() => openRegularFile(path, options)))();
    } catch (err) {
      this.#handles.delete(handleId);
      throw err;
    }
    // Closed (or the connection ended) while opening: do not leak the descriptor.
    if (this.#disposed || this.#handles.get(handleId) !== slot) await slot.file.close();
  }

  /**
   * Reads up to `len` bytes at `offset`. Fewer bytes only at end of file (`eof` true). A read
   * error closes the handle.
   */
  readBlock(handleId: string, block: { offset: number; len: number }): Promise<Block> {
    const { offset, len } = block;
    if (!Number.isInteger(len) || len < 1 || len > MAX_BLOCK_LENGTH) {
      return Promise.reject(
        invalidRequest(`file read block length must be between 1 and ${MAX_BLOCK_LENGTH}`),
      );
    }
    const handle = this.#handles.get(handleId);
    if (!handle?.file) {
      return Promise.reject(
        new RpcError(ErrorCode.NotFound, `unknown file handle \`${handleId}\``),
      );
    }
    const file = handle.file;
    const result = handle.tail.then(() => {
      // What the kernel says for a read on a write-only descriptor; a read error closes the
      // handle, as upstream's does.
      if (handle.mode !== "read") {
        if (this.#handles.get(handleId) === handle) this.#handles.delete(handleId);
        return file.close().catch(() => {}).then(() => {
          throw new RpcError(ErrorCode.Internal, "Bad file descriptor (os error 9)");
        });
      }
      return this.#read(handleId, file, offset, len);
    });
    handle.tail = result.catch(() => {});
    return result;
  }

  async #read(handleId: string, file: fsp.FileHandle, offset: number, len: number) {
    const buffer = new Uint8Array(len);
    let filled = 0;
    try {
      while (filled < len) {
        const { bytesRead } = await file.read(buffer, filled, len - filled, offset + filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
    } catch (err) {
      // Not close(): that waits for the queue this read is part of.
      if (this.#handles.get(handleId)?.file === file) this.#handles.delete(handleId);
      await file.close().catch(() => {});
      throw ioError(err, { operation: "read", path: `file handle ${handleId}` });
    }
    return { chunk: encodeBase64(buffer.subarray(0, filled)), eof: filled < len };
  }

  /**
   * Writes all of `chunk` (1 byte to 1 MiB) at `offset` of a `replace` handle; offsets past the
   * end leave a hole. A write error leaves the handle open.
   */
  writeBlock(handleId: string, block: { offset: number; chunk: Uint8Array }): Promise<void> {
    const { offset, chunk } = block;
    if (chunk.length < 1 || chunk.length > MAX_BLOCK_LENGTH) {
      return Promise.reject(
        invalidRequest(`file write block length must be between 1 and ${MAX_BLOCK_LENGTH}`),
      );
    }
    const handle = this.#handles.get(handleId);
    if (!handle?.file) {
      return Promise.reject(
        new RpcError(ErrorCode.NotFound, `unknown file handle \`${handleId}\``),
      );
    }
    if (handle.mode !== "replace") {
      return Promise.reject(new RpcError(ErrorCode.Internal, "Bad file descriptor (os error 9)"));
    }
    const file = handle.file;
    const result = handle.tail.then(async () => {
      let written = 0;
      try {
        while (written < chunk.length) {
          const remaining = chunk.subarray(written);
          let n = await pwriteOffThread(file.fd, remaining, offset + written);
          // Failed (or no FFI): node:fs repeats the write and raises the error by its name.
          if (n < 0) {
            n = (await file.write(remaining, 0, remaining.length, offset + written)).bytesWritten;
          }
          written += n;
        }
      } catch (err) {
        throw ioError(err, { operation: "write", path: `file handle ${handleId}` });
      }
    });
    handle.tail = result.catch(() => {});
    return result;
  }

  /**
   * {@link writeBlock} of a base64 `chunk` (`fs/writeBlock`'s params): invalid base64 is -32602
   * with the base64 crate's text. The block is decoded into a kept 1 MiB buffer, which returns to
   * the pool once the write is done.
   */
  writeBase64Block(handleId: string, block: { offset: number; chunk: string }): Promise<void> {
    const scratch = spareBlocks.pop() ?? new Uint8Array(MAX_BLOCK_LENGTH);
    const recycle = () => {
      if (spareBlocks.length < MAX_SPARE_BLOCKS) spareBlocks.push(scratch);
    };
    let chunk: Uint8Array;
    try {
      chunk = decodeBase64(block.chunk, scratch);
    } catch (err) {
      recycle();
      return Promise.reject(err instanceof Base64Error ? invalidParams(err.message) : err);
    }
    return this.writeBlock(handleId, { offset: block.offset, chunk }).finally(recycle);
  }

  /** Closes `handleId`; unknown ids are fine. */
  async close(handleId: string): Promise<void> {
    const handle = this.#handles.get(handleId);
    if (!handle) return;
    this.#handles.delete(handleId);
    // Let reads already queued on this handle finish before the descriptor goes away.
    await handle.tail;
    await handle.file?.close();
  }

  /** Closes every handle. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.#disposed = true;
    const ids = [...this.#handles.keys()];
    await Promise.all(ids.map((id) => this.close(id)));
  }
}
