/**
 * A websocket client written by hand over `Deno.connect`, so tests can send what no library
 * sends: continuation frames adding up to any size, frames cut anywhere.
 * @module
 */

const encoder = new TextEncoder();

/** One frame as read from the server. */
export interface RawFrame {
  fin: boolean;
  opcode: number;
  payload: Uint8Array;
}

/** Client frame header (masked with a zero key, which leaves the payload as is). */
export function frameHeader(fin: boolean, opcode: number, length: number): Uint8Array {
  const header = new Uint8Array(14);
  header[0] = (fin ? 0x80 : 0) | opcode;
  header[1] = 0x80 | 127;
  new DataView(header.buffer).setBigUint64(2, BigInt(length));
  return header; // bytes 10..13: the zero mask key
}

/** A raw websocket connection after a successful (101) upgrade. */
export class RawWebSocket {
  #buffer: Uint8Array = new Uint8Array(0);
  constructor(readonly conn: Deno.Conn, readonly status: number, leftover: Uint8Array) {
    this.#buffer = leftover;
  }

  /** Opens `url` (ws://host:port/path?query) and performs the upgrade. */
  static async open(url: string, headers: Record<string, string> = {}): Promise<RawWebSocket> {
    const parsed = new URL(url);
    const conn = await Deno.connect({ hostname: parsed.hostname, port: Number(parsed.port) });
    const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("");
    await conn.write(encoder.encode(
      `GET ${parsed.pathname}${parsed.search} HTTP/1.1\r\nHost: ${parsed.host}\r\n` +
        `Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n` +
        `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n${extra}\r\n`,
    ));
    let head: Uint8Array = new Uint8Array(0);
    const chunk = new Uint8Array(4096);
    for (;;) {
      const n = await conn.read(chunk);
      if (n === null) throw new Error("closed during the upgrade");
      head = concat(head, chunk.subarray(0, n));
      const text = new TextDecoder("latin1").decode(head);
      const end = text.indexOf("\r\n\r\n");
      if (end < 0) continue;
      const status = Number(text.split(" ")[1]);
      if (status !== 101) throw new Error(`upgrade refused: ${text.split("\r\n")[0]}`);
      return new RawWebSocket(conn, status, head.subarray(end + 4));
    }
  }

  /** Writes all bytes; false once the peer has closed the connection. */
  async write(bytes: Uint8Array): Promise<boolean> {
    try {
      let offset = 0;
      while (offset < bytes.length) offset += await this.conn.write(bytes.subarray(offset));
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Sends one message of `total` bytes of `fill` as continuation frames of `frameBytes`;
   * stops early (returns the bytes sent) once the server stops reading or closes.
   */
  async sendFragmented(
    opcode: number,
    total: number,
    frameBytes: number,
    fill = 0x20,
  ): Promise<number> {
    const payload = new Uint8Array(frameBytes).fill(fill);
    let sent = 0;
    while (sent < total) {
      const size = Math.min(frameBytes, total - sent);
      const last = sent + size >= total;
      const ok = await this.write(frameHeader(last, sent === 0 ? opcode : 0, size)) &&
        await this.write(payload.subarray(0, size));
      if (!ok) break;
      sent += size;
    }
    return sent;
  }

  /** The next frame, or `null` at EOF. */
  async read(): Promise<RawFrame | null> {
    for (;;) {
      const frame = this.#parse();
      if (frame) return frame;
      const chunk = new Uint8Array(64 * 1024);
      let n: number | null;
      try {
        n = await this.conn.read(chunk);
      } catch {
        return null;
      }
      if (n === null) return null;
      this.#buffer = concat(this.#buffer, chunk.subarray(0, n));
    }
  }

  /** Reads frames until a close frame; its code, or `null` if the connection just ended. */
  async closeCode(): Promise<number | null> {
    for (;;) {
      const frame = await this.read();
      if (frame === null) return null;
      if (frame.opcode === 8) {
        return frame.payload.length >= 2 ? (frame.payload[0] << 8) | frame.payload[1] : 1005;
      }
    }
  }

  close(): void {
    try {
      this.conn.close();
    } catch {
      // already closed
    }
  }

  #parse(): RawFrame | null {
    const b = this.#buffer;
    if (b.length < 2) return null;
    let length = b[1] & 0x7f;
    let offset = 2;
    if (length === 126) {
      if (b.length < 4) return null;
      length = (b[2] << 8) | b[3];
      offset = 4;
    } else if (length === 127) {
      if (b.length < 10) return null;
      length = Number(new DataView(b.buffer, b.byteOffset + 2, 8).getBigUint64(0));
      offset = 10;
    }
    if (b.length < offset + length) return null;
    const frame = {
      fin: (b[0] & 0x80) !== 0,
      opcode: b[0] & 0x0f,
      payload: b.slice(offset, offset + length),
    };
    this.#buffer = b.subarray(offset + length);
    return frame;
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** Resident set size of a process in MiB (from /proc). */
export function rssMiB(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb / 1024;
}
