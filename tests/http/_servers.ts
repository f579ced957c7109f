/**
 * Peers for `http/request` tests: a raw TCP HTTP/1.1 peer that records requests byte for byte
 * and answers with scripted bytes (so tests see exactly what went over the wire), and a
 * proxy stand-in that only records that it was contacted.
 * @module
 */

/** One request as received on the wire. */
export interface RawRequest {
  /** Request line and header lines, without the blank line. */
  head: string;
  requestLine: string;
  /** `[name, value]` exactly as sent. */
  headers: [string, string][];
  body: Uint8Array;
}

/** What the peer does with a connection once it has read the request. */
export type RawResponder = (request: RawRequest, conn: Deno.TcpConn) => Promise<void>;

/** A listening raw peer. */
export interface RawPeer extends AsyncDisposable {
  port: number;
  url: string;
  requests: RawRequest[];
}

const encoder = new TextEncoder();

/** Writes text (latin1 code points as bytes, so tests can send non-UTF-8 header bytes). */
export async function writeLatin1(conn: Deno.Conn, text: string): Promise<void> {
  const bytes = Uint8Array.from(text, (c) => c.charCodeAt(0));
  let written = 0;
  while (written < bytes.length) written += await conn.write(bytes.subarray(written));
}

/** Writes UTF-8 text or bytes. */
export async function writeAll(conn: Deno.Conn, data: string | Uint8Array): Promise<void> {
  const bytes = typeof data === "string" ? encoder.encode(data) : data;
  let written = 0;
  while (written < bytes.length) written += await conn.write(bytes.subarray(written));
}

async function readRequest(conn: Deno.Conn): Promise<RawRequest | undefined> {
  let buffer = new Uint8Array(0);
  const chunk = new Uint8Array(64 * 1024);
  const append = (n: number) => {
    const next = new Uint8Array(buffer.length + n);
    next.set(buffer);
    next.set(chunk.subarray(0, n), buffer.length);
    buffer = next;
  };
  let headEnd = -1;
  while (headEnd < 0) {
    const n = await conn.read(chunk);
    if (n === null) return undefined;
    append(n);
    headEnd = new TextDecoder("latin1").decode(buffer).indexOf("\r\n\r\n");
  }
  const head = new TextDecoder("latin1").decode(buffer.subarray(0, headEnd));
  const [requestLine, ...lines] = head.split("\r\n");
  const headers = lines.map((line) => {
    const colon = line.indexOf(":");
    return [line.slice(0, colon), line.slice(colon + 1).trim()] as [string, string];
  });
  const length = Number(
    headers.find(([name]) => name.toLowerCase() === "content-length")?.[1] ?? "0",
  );
  while (buffer.length < headEnd + 4 + length) {
    const n = await conn.read(chunk);
    if (n === null) break;
    append(n);
  }
  return { head, requestLine, headers, body: buffer.slice(headEnd + 4, headEnd + 4 + length) };
}

/**
 * Listens on 127.0.0.1:0; for each connection reads one request, records it and lets
 * `respond` write the answer, then closes the connection.
 */
export function rawPeer(respond: RawResponder): RawPeer {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const requests: RawRequest[] = [];
  const conns = new Set<Deno.TcpConn>();
  const handlers = new Set<Promise<void>>();
  const accepting = (async () => {
    for await (const conn of listener) {
      conns.add(conn);
      const handler = (async () => {
        try {
          const request = await readRequest(conn);
          if (request) {
            requests.push(request);
            await respond(request, conn);
          }
        } catch {
          // the client went away; nothing to answer
        } finally {
          conns.delete(conn);
          try {
            conn.close();
          } catch {
            // already closed
          }
        }
      })();
      handlers.add(handler);
      handler.finally(() => handlers.delete(handler));
    }
  })().catch(() => {});
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    requests,
    async [Symbol.asyncDispose]() {
      listener.close();
      for (const conn of conns) {
        try {
          conn.close();
        } catch {
          // already closed
        }
      }
      await accepting;
      await Promise.allSettled([...handlers]);
    },
  };
}

/** A fixed response. */
export function reply(text: string): RawResponder {
  return async (_request, conn) => {
    await writeLatin1(conn, text);
  };
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
