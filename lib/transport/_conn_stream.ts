/**
 * A `Deno.Conn` as a Node `Duplex`, the socket shape npm `ws` drives. We accept with `Deno.listen`
 * (whose accept errors we can survive; `node:net` in Deno silently stops accepting after EMFILE)
 * and still let `ws` do the websocket framing. Reads pull only while the stream wants data, so a
 * paused websocket stops reading the TCP connection (backpressure reaches the peer).
 * @module
 */
import { Duplex } from "node:stream";
import { Buffer } from "node:buffer";
import { concatBytes } from "../util/bytes.ts";

/**
 * Reads start into a small buffer and move to a large one once a read fills it: an idle session
 * (the common case, thousands per server) then holds 4 KiB instead of 64 KiB of resident read
 * buffer, and a bulk transfer still reads 64 KiB per call after its first full read.
 */
const SMALL_READ = 4 * 1024;
const LARGE_READ = 64 * 1024;
/** Queued writes are joined into writes of about this many bytes. */
const COALESCE_BYTES = 256 * 1024;
/** A write batch: `used` bytes handed out, `pending` of its frames not yet written. */
interface Batch {
  bytes: Uint8Array<ArrayBuffer>;
  used: number;
  pending: number;
}

/** Write batches (`reserveDirect`) no connection holds, kept for the next burst: 1 MiB at most. */
const spareBatches: Uint8Array<ArrayBuffer>[] = [];
const MAX_SPARE_BATCHES = 4;
const EMPTY = Buffer.alloc(0);

/** One view of `parts` when they lie back to back in one buffer (see `reserveDirect`), else null. */
function adjacent(parts: readonly { bytes: Uint8Array }[], length: number): Uint8Array | null {
  const first = parts[0].bytes;
  let end = first.byteOffset + first.length;
  for (let i = 1; i < parts.length; i++) {
    const bytes = parts[i].bytes;
    if (bytes.buffer !== first.buffer || bytes.byteOffset !== end) return null;
    end += bytes.length;
  }
  return new Uint8Array(first.buffer, first.byteOffset, length);
}

/**
 * @example
 * ```ts
 * const conn = await Deno.connect({ hostname: "127.0.0.1", port: 80 });
 * const stream = new ConnStream(conn);
 * stream.end("GET / HTTP/1.0\r\n\r\n");
 * ```
 */
export class ConnStream extends Duplex {
  #conn: Deno.Conn;
  #reading = false;
  #readBuffer = new Uint8Array(SMALL_READ);
  #writing = false;
  #directBytes = 0;
  /** Writes that arrived while one was in flight (a Writable chunk behind a direct write). */
  #waiting: { bytes: Uint8Array; callback: (error?: Error | null) => void }[] = [];
  /**
   * Where {@link reserveDirect} hands out space: append-only while any of it may be in a write,
   * so a region given to the kernel is never written again.
   */
  #batch: Batch | null = null;

  constructor(conn: Deno.Conn) {
    super({ allowHalfOpen: false });
    this.#conn = conn;
  }

  /**
   * Sees each read before it enters the stream (only while the stream flows and holds nothing)
   * and returns how many leading bytes it consumed; the rest is pushed as usual.
   */
  readHook: ((bytes: Uint8Array) => number) | null = null;

  /**
   * While `target()` returns a buffer, reads land straight in it (a large websocket frame being
   * filled, whose bytes the stream never sees) and `filled(n)` is told how many arrived.
   */
  readInto: {
    target(): Uint8Array | null;
    filled(n: number): void;
    /** No more reads will come (the connection ended), and none is in flight. */
    abandon(): void;
  } | null = null;

  override _read(): void {
    if (this.#reading) return;
    this.#reading = true;
    (async () => {
      try {
        for (;;) {
          const into = this.readInto?.target() ?? null;
          const buffer = this.#readBuffer;
          const n = await this.#conn.read(into ?? buffer);
          if (n === null) {
            this.readInto?.abandon();
            this.push(null);
            return;
          }
          if (!into && n === buffer.length && n < LARGE_READ) {
            this.#readBuffer = new Uint8Array(LARGE_READ);
          }
          let taken = 0;
          if (into) {
            this.readInto!.filled(n);
            taken = n;
          } else if (this.readHook && this.readableFlowing === true && this.readableLength === 0) {
            taken = this.readHook(buffer.subarray(0, n));
          }
          if (taken === n) {
            if (this.readableFlowing === true || this.readInto?.target()) continue;
            // Paused by a consumer. A _read that pushes nothing would never be called again
            // (the stream stays "reading"): an empty push ends this read, and resume() reads on.
            this.push(EMPTY);
            return;
          }
          // A copy of what arrived, not a fresh 64 KiB buffer per read: small messages would
          // otherwise allocate (and zero, and collect) 64 KiB each.
          if (!this.push(Buffer.from(buffer.subarray(taken, n)))) return;
        }
      } catch (error) {
        this.readInto?.abandon();
        this.destroy(error as Error);
      } finally {
        this.#reading = false;
      }
    })();
  }

  override _write(
    chunk: Uint8Array,
    _encoding: string,
    callback: (error?: Error | null) => void,
  ): void {
    if (this.#writing) this.#waiting.push({ bytes: chunk, callback });
    else this.#startWrite(chunk, [callback]);
  }

  /** Nothing buffered in the Writable: a {@link writeDirect} now goes out in call order. */
  canWriteDirect(): boolean {
    return this.writableLength === 0 && this.writable && !this.destroyed;
  }

  /** Bytes given to {@link writeDirect} that the kernel has not taken yet. */
  get directBytes(): number {
    return this.#directBytes;
  }

  /**
   * `length` bytes to fill and then pass to {@link writeDirect} at once: frames reserved and
   * written in order lie back to back, so those that queue up leave in one write without being
   * copied into a joined buffer (a process's output pieces of one read, above all).
   */
  reserveDirect(length: number): Uint8Array {
    let batch = this.#batch;
    if (batch === null || batch.used + length > batch.bytes.length) {
      // A full batch goes back to the spares once the writes of its frames are done.
      const bytes = (length <= COALESCE_BYTES ? spareBatches.pop() : undefined) ??
        new Uint8Array(Math.max(COALESCE_BYTES, length));
      batch = this.#batch = { bytes, used: 0, pending: 0 };
    }
    const start = batch.used;
    batch.used += length;
    batch.pending++;
    return batch.bytes.subarray(start, start + length);
  }

  /**
   * Writes `bytes` beside the Writable machinery (only when {@link canWriteDirect}); behind a
   * write in flight it waits with the others, so bytes leave in the order of the calls. The
   * write starts in a microtask: frames sent in one synchronous run (a process's `exited` and
   * `closed`) leave in one write, one syscall and one wake-up of the peer.
   */
  writeDirect(bytes: Uint8Array): void {
    this.#directBytes += bytes.length;
    const batch = this.#batch?.bytes.buffer === bytes.buffer ? this.#batch : null;
    const callback = (error?: Error | null) => {
      this.#directBytes -= bytes.length;
      if (error) this.destroy(error);
      else if (batch) {
        batch.pending--;
        this.#recycle(batch);
      }
    };
    this.#waiting.push({ bytes, callback });
    if (!this.#writing) {
      this.#writing = true;
      queueMicrotask(() => this.#writeDone([], null));
    }
  }

  /**
   * Once no frame of `batch` waits or is in flight, it goes back to the spares: at once when it
   * is full, and when the connection has nothing more to write otherwise (an idle connection
   * keeps none).
   */
  #recycle(batch: Batch): void {
    if (batch.pending > 0) return;
    if (batch === this.#batch) {
      if (this.#writing || this.#waiting.length > 0) return;
      this.#batch = null;
    }
    if (batch.bytes.length === COALESCE_BYTES && spareBatches.length < MAX_SPARE_BATCHES) {
      spareBatches.push(batch.bytes);
    }
  }

  #startWrite(bytes: Uint8Array, callbacks: ((error?: Error | null) => void)[]): void {
    this.#writing = true;
    // A promise chain, not an async loop: nearly every write is taken whole by its first call.
    const fail = (error: unknown) => this.#writeDone(callbacks, error as Error);
    const written = (offset: number) => {
      if (offset >= bytes.length) this.#writeDone(callbacks, null);
      else this.#conn.write(bytes.subarray(offset)).then((n) => written(offset + n), fail);
    };
    this.#conn.write(bytes).then(written, fail);
  }

  #writeDone(callbacks: ((error?: Error | null) => void)[], error: Error | null): void {
    this.#writing = false;
    if (error) {
      for (const next of this.#waiting.splice(0)) next.callback(error);
    } else if (this.#waiting.length > 0) {
      // Everything that queued up behind the last write leaves in one write (a flood of small
      // frames costs one syscall per ~256 KiB instead of one per frame).
      let length = 0;
      let count = 0;
      while (count < this.#waiting.length && (count === 0 || length < COALESCE_BYTES)) {
        length += this.#waiting[count++].bytes.length;
      }
      const taken = this.#waiting.splice(0, count);
      const joined = count === 1 ? taken[0].bytes : adjacent(taken, length) ??
        concatBytes(taken.map((t) => t.bytes), length);
      this.#startWrite(joined, taken.map((t) => t.callback));
    } else if (this.#batch) {
      this.#recycle(this.#batch);
    }
    for (const callback of callbacks) callback(error);
  }

  /**
   * `ws` corks the socket around a frame's header and payload: one write (one syscall, one TCP
   * segment) for both instead of a 2-byte segment and then the payload.
   */
  override _writev(
    chunks: { chunk: Uint8Array; encoding: string }[],
    callback: (error?: Error | null) => void,
  ): void {
    if (chunks.length === 1) return this._write(chunks[0].chunk, "buffer", callback);
    this._write(concatBytes(chunks.map((c) => c.chunk)), "buffer", callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    const closeWrite = () => this.#conn.closeWrite().then(() => callback(), () => callback());
    // A direct write may still be in flight: half-close after it.
    if (this.#writing) this.#waiting.push({ bytes: new Uint8Array(0), callback: closeWrite });
    else closeWrite();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    // A read in flight ends with the connection (its own abandon); none in flight: abandon now.
    if (!this.#reading) this.readInto?.abandon();
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
    callback(error);
  }

  /** `ws` calls this on server sockets; our deadlines live elsewhere. */
  setTimeout(): this {
    return this;
  }

  /** `ws` turns Nagle off for websocket traffic. */
  setNoDelay(noDelay = true): this {
    try {
      (this.#conn as Deno.TcpConn).setNoDelay(noDelay);
    } catch {
      // not TCP, or closed
    }
    return this;
  }

  /** Part of the socket surface `ws` may call. */
  setKeepAlive(): this {
    return this;
  }
}
