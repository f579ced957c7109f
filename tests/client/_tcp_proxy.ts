/**
 * A TCP proxy for tests: forwards 127.0.0.1 connections to a target, and can cut every live
 * connection (both directions) or refuse new ones, to simulate a network drop.
 * @module
 */

/** A running proxy. */
export interface TcpProxy extends AsyncDisposable {
  /** `ws://127.0.0.1:PORT` pointing at the proxy. */
  url: string;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Closes every live connection. */
  cut(): void;
  /** While true, new connections are closed at once (the server looks unreachable). */
  refuse: boolean;
  close(): Promise<void>;
}

async function pipe(from: Deno.Conn, to: Deno.Conn): Promise<void> {
  const buffer = new Uint8Array(64 * 1024);
  try {
    for (;;) {
      const n = await from.read(buffer);
      if (n === null) break;
      let off = 0;
      while (off < n) off += await to.write(buffer.subarray(off, n));
    }
  } catch {
    // cut or peer gone
  }
}

/** Starts a proxy in front of `targetUrl` (a `ws://host:port` URL). */
export function startTcpProxy(targetUrl: string): TcpProxy {
  const target = new URL(targetUrl);
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const live = new Set<{ a: Deno.Conn; b: Deno.Conn }>();
  const tasks = new Set<Promise<void>>();
  let accepted = 0;
  const closePair = (pair: { a: Deno.Conn; b: Deno.Conn }) => {
    live.delete(pair);
    for (const c of [pair.a, pair.b]) {
      try {
        c.close();
      } catch {
        // already closed
      }
    }
  };
  const proxy: TcpProxy = {
    url: `ws://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    get accepted() {
      return accepted;
    },
    refuse: false,
    cut() {
      for (const pair of [...live]) closePair(pair);
    },
    async close() {
      listener.close();
      proxy.cut();
      await acceptLoop;
      await Promise.all(tasks);
    },
    async [Symbol.asyncDispose]() {
      await proxy.close();
    },
  };
  const acceptLoop = (async () => {
    try {
      for await (const a of listener) {
        accepted++;
        if (proxy.refuse) {
          a.close();
          continue;
        }
        const task = (async () => {
          let b: Deno.Conn;
          try {
            b = await Deno.connect({ hostname: target.hostname, port: Number(target.port) });
          } catch {
            a.close();
            return;
          }
          const pair = { a, b };
          live.add(pair);
          const directions = [pipe(a, b), pipe(b, a)];
          await Promise.race(directions);
          // One side ended: end the other too, as a dropped link would.
          closePair(pair);
          await Promise.all(directions);
        })();
        tasks.add(task);
        task.finally(() => tasks.delete(task));
      }
    } catch {
      // listener closed
    }
  })();
  return proxy;
}
