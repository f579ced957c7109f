/**
 * The NATS client's socket on Deno's own TCP (`Deno.connect`). Under Deno, the `node:net`
 * socket of `@nats-io/transport-node` adds 20-50 µs of stream machinery to every write, and a
 * cross-node round trip writes twice. TLS links still go through that node transport: it sends
 * client certificates and takes the `checkServerIdentity` that IP-literal servers need, which
 * `Deno.startTls` cannot.
 * @module
 */
import {
  checkOptions,
  type ConnectionOptions,
  errors,
  extractProtocolMessage,
  INFO,
  type NatsConnection,
  NatsConnectionImpl,
  type Server,
  type ServerInfo,
  setTransportFactory,
  type Transport,
} from "@nats-io/nats-core/internal";
import { nodeResolveHost, NodeTransport } from "@nats-io/transport-node/lib/node_transport.js";
import { version } from "@nats-io/transport-node/lib/version.js";
import { concatBytes } from "../../util/bytes.ts";

/** One read's buffer; each read is handed on as a copy (the parser keeps views of it). */
const READ_BYTES = 64 * 1024;

/**
 * Connects like `connect` of `@nats-io/transport-node`, with plain links on {@link TcpTransport}.
 * @example
 * ```ts ignore
 * const nc = await connectNats({ servers: "nats://127.0.0.1:4222" });
 * await nc.close();
 * ```
 */
export function connectNats(options: ConnectionOptions): Promise<NatsConnection> {
  // The factory is global to the client library and asked at every (re)connect: this one
  // serves TLS connections too, so a node-transport connection in the same process still works.
  setTransportFactory({ factory: () => new TcpTransport(), dnsResolveFn: nodeResolveHost });
  return NatsConnectionImpl.connect(options);
}

/**
 * One connection attempt of the NATS client: plain TCP on `Deno.Conn`, or, when TLS is asked
 * for or the server requires it, a node transport that this one hands every call to.
 */
class TcpTransport implements Transport {
  /** What the node transport tells the server, so the server sees one client either way. */
  readonly lang = "nats.js";
  readonly version = version;
  closeError?: Error;
  #node: NodeTransport | undefined;
  #conn: Deno.TcpConn | undefined;
  /** What arrived with INFO, for the client's parser (it answers INFO with CONNECT). */
  #first: Uint8Array | undefined;
  #connected = false;
  #done = false;
  #closing = false;
  #closed = Promise.withResolvers<void | Error>();
  #queue: Uint8Array[] = [];
  #writing = false;

  get isClosed(): boolean {
    return this.#node ? this.#node.isClosed : this.#done;
  }

  async connect(server: Server, options: ConnectionOptions): Promise<void> {
    if (options.tls) return this.#viaNode(server, options);
    try {
      this.#conn = await Deno.connect({ hostname: server.hostname, port: server.port });
    } catch (error) {
      if (!(error instanceof Deno.errors.ConnectionRefused)) throw error;
      throw new errors.ConnectionError("connection refused", { cause: error });
    }
    try {
      this.#conn.setNoDelay(true);
      const { info, bytes } = await this.#readInfo(this.#conn);
      if (info.tls_required || (info.tls_available && options.tls !== null)) {
        // What the node transport does with such a server: upgrade, on a fresh connection.
        this.#conn.close();
        this.#conn = undefined;
        return await this.#viaNode(server, options);
      }
      checkOptions(info, options);
      this.#first = bytes;
      this.#connected = true;
    } catch (error) {
      this.#done = true;
      this.#closeConn();
      throw error;
    }
  }

  async #viaNode(server: Server, options: ConnectionOptions): Promise<void> {
    this.#node = new NodeTransport();
    if (this.#done) this.#node.discard();
    await this.#node.connect(server, options);
  }

  /** Reads up to the end of the server's first line, which must be INFO. */
  async #readInfo(conn: Deno.Conn): Promise<{ info: ServerInfo; bytes: Uint8Array }> {
    let bytes = new Uint8Array(0);
    const buffer = new Uint8Array(READ_BYTES);
    for (;;) {
      if (this.#done) throw new errors.ConnectionError("connection closed while connecting");
      const n = await conn.read(buffer);
      if (n === null) throw new errors.ConnectionError("the server closed before its INFO");
      const joined = new Uint8Array(bytes.length + n);
      joined.set(bytes);
      joined.set(buffer.subarray(0, n), bytes.length);
      bytes = joined;
      const line = extractProtocolMessage(bytes);
      if (line === "") continue;
      const info = INFO.exec(line);
      if (!info) throw new errors.ProtocolError(`unexpected response from server: ${line}`);
      return { info: JSON.parse(info[1]), bytes };
    }
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<Uint8Array> {
    return this.#node ? this.#node[Symbol.asyncIterator]() : this.#reads();
  }

  async *#reads(): AsyncIterableIterator<Uint8Array> {
    const conn = this.#conn!;
    if (this.#first) yield this.#first;
    this.#first = undefined;
    const buffer = new Uint8Array(READ_BYTES);
    while (!this.#done) {
      let n: number | null;
      try {
        n = await conn.read(buffer);
      } catch (error) {
        this.#end(error as Error);
        return;
      }
      if (n === null) {
        this.#end(undefined);
        return;
      }
      yield buffer.slice(0, n);
    }
  }

  isEncrypted(): boolean {
    return this.#node ? this.#node.isEncrypted() : false;
  }

  /** Queues `frame`; whatever queues behind a write in flight leaves in one write after it. */
  send(frame: Uint8Array): void {
    if (this.#node) return this.#node.send(frame);
    if (this.#done || this.#conn === undefined || frame.length === 0) return;
    this.#queue.push(frame);
    if (!this.#writing) this.#writeQueue(this.#conn);
  }

  async #writeQueue(conn: Deno.Conn): Promise<void> {
    this.#writing = true;
    try {
      while (this.#queue.length > 0 && !this.#done) {
        const bytes = this.#queue.length === 1 ? this.#queue[0] : concatBytes(this.#queue);
        this.#queue = [];
        let offset = 0;
        while (offset < bytes.length) offset += await conn.write(bytes.subarray(offset));
      }
    } catch (error) {
      this.#end(error as Error);
    } finally {
      this.#writing = false;
    }
  }

  close(error?: Error): Promise<void> {
    if (this.#node) return this.#node.close(error);
    this.#end(error);
    return Promise.resolve();
  }

  /** The client saw the link go stale (or was told to reconnect): close it and say so. */
  disconnect(): void {
    if (this.#node) return this.#node.disconnect();
    this.#end(undefined);
  }

  /** The client replaced this attempt: close it without a word (no closed notification). */
  discard(): void {
    if (this.#node) return this.#node.discard();
    this.#done = true;
    this.#closeConn();
  }

  closed(): Promise<void | Error> {
    return this.#node ? this.#node.closed() : this.#closed.promise;
  }

  /** The link is over: the client hears of it once, and only for a link that got connected. */
  #end(error: Error | undefined): void {
    if (this.#closing) return;
    this.#closing = true;
    const notify = this.#connected && !this.#done;
    this.#done = true;
    this.#queue = [];
    this.#closeConn();
    if (!notify) return;
    this.closeError = error;
    this.#closed.resolve(error);
  }

  #closeConn(): void {
    try {
      this.#conn?.close();
    } catch {
      // already closed
    }
  }
}
