/**
 * A `Deno.Conn` as a Node `Duplex`, the socket shape npm `ws` drives. We accept with `Deno.listen`
 * (whose accept errors we can survive; `node:net` in Deno silently stops accepting after EMFILE)
 * and still let `ws` do the websocket framing. Reads pull only while the stream wants data, so a
 * paused websocket stops reading the TCP connection (backpressure reaches the peer).
 * @module
 */
import { Duplex } from "node:stream";
import { Buffer } from "node:buffer";

const READ_CHUNK = 64 * 1024;

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

  constructor(conn: Deno.Conn) {
    super({ allowHalfOpen: false });
    this.#conn = conn;
  }

  override _read(): void {
    if (this.#reading) return;
    this.#reading = true;
    (async () => {
      try {
        for (;;) {
          const buffer = new Uint8Array(READ_CHUNK);
          const n = await this.#conn.read(buffer);
          if (n === null) {
            this.push(null);
            return;
          }
          if (!this.push(Buffer.from(buffer.buffer, 0, n))) return;
        }
      } catch (error) {
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
    (async () => {
      let offset = 0;
      while (offset < chunk.length) offset += await this.#conn.write(chunk.subarray(offset));
    })().then(() => callback(), (error) => callback(error as Error));
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.#conn.closeWrite().then(() => callback(), () => callback());
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
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
