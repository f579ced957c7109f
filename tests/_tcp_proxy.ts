/**
 * A TCP proxy for tests: forwards 127.0.0.1 connections to a target and simulates network
 * failures: cut every live connection (both directions), refuse new ones, or black-hole the
 * open ones (bytes read and dropped, nothing closed: a silently dead link).
 * @module
 */

/** A running proxy. */
export interface TcpProxy extends AsyncDisposable {
  /** `ws://127.0.0.1:PORT` pointing at the proxy. */
  url: string;
  /** The proxy's port. */
  port: number;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** While true, new connections are closed at once (the server looks unreachable). */
  refuse: boolean;
  /** Closes every open connection; new ones are still accepted. */
  cut(): void;
  /** Black-holes every open connection (bytes are read and discarded, nothing is closed). */
  freeze(): void;
  /**
   * Stops reading what the target sends until {@link TcpProxy.resume} (a slow client link: the
   * target's writes back up in TCP, nothing is lost).
   */
  stall(): void;
  /** Ends a {@link TcpProxy.stall}. */
  resume(): void;
  close(): Promise<void>;
}

/**
 * Starts a proxy in front of `target`: a `ws://host:port` URL, or a port on 127.0.0.1.
 *
 * @example
 * ```ts ignore
 * await using proxy = startTcpProxy(server.url);
 * const client = await ExecServerClient.connect(proxy.url);
 * proxy.cut(); // the client sees a dropped connection and recovers
 * ```
 */
export function startTcpProxy(target: string | number): TcpProxy {
  const to = typeof target === "number"
    ? { hostname: "127.0.0.1", port: target }
    : { hostname: new URL(target).hostname, port: Number(new URL(target).port) };
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const open = new Set<Deno.Conn>();
  const frozen = new Set<Deno.Conn>();
  const pumps = new Set<Promise<void>>();
  let accepted = 0;
  let refusing = false;
  let stalled: PromiseWithResolvers<void> | undefined;
  const outbounds = new Set<Deno.Conn>();
  function closeConn(conn: Deno.Conn) {
    if (!open.delete(conn)) return;
    try {
      conn.close();
    } catch {
      // closed
    }
  }
  async function pipe(from: Deno.Conn, to: Deno.Conn) {
    const buffer = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        while (stalled && outbounds.has(from)) await stalled.promise;
        const n = await from.read(buffer);
        if (n === null) break;
        if (frozen.has(from)) continue;
        let written = 0;
        while (written < n) written += await to.write(buffer.subarray(written, n));
      }
    } catch {
      // cut or reset
    }
    // One side ended: end the other too, as a dropped link would; a black hole passes nothing.
    closeConn(from);
    if (!frozen.has(from)) closeConn(to);
  }
  const accepting = (async () => {
    for await (const inbound of listener) {
      accepted++;
      if (refusing) {
        inbound.close();
        continue;
      }
      let outbound: Deno.Conn;
      try {
        outbound = await Deno.connect(to);
      } catch {
        inbound.close();
        continue;
      }
      open.add(inbound);
      open.add(outbound);
      outbounds.add(outbound);
      for (const p of [pipe(inbound, outbound), pipe(outbound, inbound)]) {
        pumps.add(p);
        p.finally(() => pumps.delete(p));
      }
    }
  })().catch(() => {});
  const port = (listener.addr as Deno.NetAddr).port;
  const proxy: TcpProxy = {
    url: `ws://127.0.0.1:${port}`,
    port,
    get accepted() {
      return accepted;
    },
    get refuse() {
      return refusing;
    },
    set refuse(value: boolean) {
      refusing = value;
    },
    cut() {
      for (const conn of [...open]) closeConn(conn);
    },
    freeze() {
      for (const conn of open) frozen.add(conn);
    },
    stall() {
      stalled ??= Promise.withResolvers<void>();
    },
    resume() {
      stalled?.resolve();
      stalled = undefined;
    },
    async close() {
      proxy.resume();
      listener.close();
      frozen.clear();
      proxy.cut();
      await accepting;
      await Promise.all([...pumps]);
    },
    async [Symbol.asyncDispose]() {
      await proxy.close();
    },
  };
  return proxy;
}
