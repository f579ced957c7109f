import assert from "node:assert/strict";
import type { Msg, NatsConnection } from "@nats-io/nats-core";
import { connectNats } from "../../lib/rendezvous/cluster/_nats_tcp_transport.ts";
import { within } from "../_deadline.ts";
import { freePort } from "./_cluster.ts";
import { NO_NATS, startNats } from "./_nats.ts";

const opts = { ignore: NO_NATS, sanitizeOps: false, sanitizeResources: false };

/** Server-to-client pieces: INFO, MSG lines and payloads all end up split mid-token. */
const PIECES = [1, 2, 3, 5, 8, 13, 1000, 70_000];

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) offset += await conn.write(bytes.subarray(offset));
}

/** Counts `token` across chunk boundaries. */
function tokenCounter(token: string, onCount: () => void) {
  const counter = { count: 0, scan };
  let carry = "";
  const latin1 = new TextDecoder("latin1");
  function scan(bytes: Uint8Array): void {
    const text = carry + latin1.decode(bytes);
    for (let at = text.indexOf(token); at >= 0; at = text.indexOf(token, at + 1)) {
      counter.count++;
    }
    carry = text.slice(-(token.length - 1));
    onCount();
  }
  return counter;
}

/**
 * A TCP hop in front of nats-server that cuts what the server sends into {@link PIECES} and
 * counts the server's PINGs and the client's PONGs.
 */
function startChoppingProxy(natsPort: number) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  let waiters: (() => void)[] = [];
  const wake = () => {
    const now = waiters;
    waiters = [];
    for (const waiter of now) waiter();
  };
  const serverPings = tokenCounter("PING\r\n", wake);
  const clientPongs = tokenCounter("PONG\r\n", wake);
  async function pump(
    from: Deno.Conn,
    to: Deno.Conn,
    chop: boolean,
    scan: (bytes: Uint8Array) => void,
  ) {
    const buffer = new Uint8Array(256 * 1024);
    let piece = 0;
    let first = chop;
    try {
      for (;;) {
        const n = await from.read(buffer);
        if (n === null) break;
        const chunk = buffer.subarray(0, n);
        scan(chunk);
        if (!chop) {
          await writeAll(to, chunk);
          continue;
        }
        for (let offset = 0; offset < n;) {
          const size = PIECES[piece++ % PIECES.length];
          await writeAll(to, chunk.subarray(offset, offset + size));
          offset += size;
          // The first chunk is INFO, and the client answers nothing before its end: pauses
          // between its pieces make the client read it in several reads.
          if (first) await new Promise((resolve) => setTimeout(resolve, 10));
        }
        first = false;
      }
    } catch {
      // reset
    }
    for (const conn of [from, to]) {
      try {
        conn.close();
      } catch {
        // closed
      }
    }
  }
  (async () => {
    for await (const client of listener) {
      const server = await Deno.connect({ hostname: "127.0.0.1", port: natsPort });
      client.setNoDelay(true);
      conns.add(client).add(server);
      pump(client, server, false, clientPongs.scan);
      pump(server, client, true, serverPings.scan);
    }
  })().catch(() => {});
  return {
    url: `nats://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    serverPings,
    clientPongs,
    /** Resolves once `condition` holds after some count changed. */
    async until(condition: () => boolean): Promise<void> {
      while (!condition()) await new Promise<void>((resolve) => waiters.push(resolve));
    },
    close() {
      listener.close();
      for (const conn of conns) {
        try {
          conn.close();
        } catch {
          // closed
        }
      }
    },
  };
}

function payload(size: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + seed) & 255;
  return bytes;
}

/** Subscribes to `subject` and resolves with the first `count` messages' data. */
function collect(nc: NatsConnection, subject: string, count: number): Promise<Uint8Array[]> {
  const received: Uint8Array[] = [];
  const done = Promise.withResolvers<Uint8Array[]>();
  nc.subscribe(subject, {
    // Kept as handed out (views into what the transport yielded): a transport that reused
    // its read buffer would change them under us.
    callback: (_error: Error | null, msg: Msg) => {
      received.push(msg.data);
      if (received.length === count) done.resolve(received);
    },
  });
  return done.promise;
}

Deno.test({
  timeout: 60_000,
  name:
    "nats tcp transport: messages from empty to 4 MiB and a burst of small ones arrive whole and in order, however the server's bytes are split",
  ...opts,
  fn: () =>
    within(
      60_000,
      "transport framing test",
      (async () => {
        await using nats = await startNats();
        const proxy = startChoppingProxy(nats.port);
        const nc = await connectNats({ servers: proxy.url });
        try {
          const sizes = [0, 1, 100, 65_535, 65_536, 65_537, 1 << 20, 4 << 20];
          const burst = 2000;
          const arrived = collect(nc, "t.>", sizes.length + burst);
          await nc.flush();
          sizes.forEach((size, i) => nc.publish(`t.big.${i}`, payload(size, i)));
          // Published in one go: they queue behind the write in flight and leave joined.
          for (let i = 0; i < burst; i++) nc.publish(`t.small.${i}`, payload(i % 300, i));
          const received = await within(30_000, "every message back", arrived);
          sizes.forEach((size, i) =>
            assert.deepEqual(received[i], payload(size, i), `size ${size}`)
          );
          for (let i = 0; i < burst; i++) {
            assert.deepEqual(received[sizes.length + i], payload(i % 300, i), `burst ${i}`);
          }
        } finally {
          await nc.close();
          proxy.close();
        }
      })(),
    ),
});

Deno.test({
  timeout: 30_000,
  name: "nats tcp transport: the server's PINGs are answered, so an idle link stays up",
  ...opts,
  fn: () =>
    within(
      30_000,
      "transport ping test",
      (async () => {
        // ping_max 1: one unanswered PING and the server drops the client as stale.
        await using nats = await startNats({ config: 'ping_interval: "100ms"\nping_max: 1' });
        const proxy = startChoppingProxy(nats.port);
        const nc = await connectNats({ servers: proxy.url });
        const disconnects: string[] = [];
        (async () => {
          for await (const status of nc.status()) {
            if (status.type === "disconnect") disconnects.push(status.type);
          }
        })();
        try {
          await within(
            10_000,
            "five server PINGs, each answered with a PONG",
            proxy.until(() =>
              proxy.serverPings.count >= 5 && proxy.clientPongs.count >= proxy.serverPings.count
            ),
          );
          await within(5_000, "a client round trip on the same link", nc.flush());
          assert.deepEqual(disconnects, []);
        } finally {
          await nc.close();
          proxy.close();
        }
      })(),
    ),
});

Deno.test({
  timeout: 30_000,
  name:
    "nats tcp transport: after nats-server restarts on its port the client reconnects and its subscriptions work again",
  ...opts,
  fn: () =>
    within(
      30_000,
      "transport reconnect test",
      (async () => {
        const port = freePort();
        const first = await startNats({ port });
        const nc = await connectNats({
          servers: first.url,
          maxReconnectAttempts: -1,
          reconnectTimeWait: 50,
        });
        const events = {
          disconnect: Promise.withResolvers<void>(),
          reconnect: Promise.withResolvers<void>(),
        };
        (async () => {
          for await (const status of nc.status()) {
            if (status.type === "disconnect") events.disconnect.resolve();
            if (status.type === "reconnect") events.reconnect.resolve();
          }
        })();
        let second: Awaited<ReturnType<typeof startNats>> | undefined;
        try {
          const before = collect(nc, "r.before", 1);
          nc.publish("r.before", payload(10, 1));
          assert.deepEqual(await within(5_000, "a message before the restart", before), [
            payload(10, 1),
          ]);
          const after = collect(nc, "r.after", 1);
          await nc.flush();
          await first.stop();
          await within(5_000, "the client to see the server go", events.disconnect.promise);
          second = await startNats({ port });
          await within(10_000, "the client to reconnect", events.reconnect.promise);
          // From another connection: the subscription must be back on the new server.
          const other = await connectNats({ servers: second.url });
          other.publish("r.after", payload(20, 2));
          await other.flush();
          assert.deepEqual(await within(5_000, "a message after the restart", after), [
            payload(20, 2),
          ]);
          await other.close();
        } finally {
          await nc.close();
          await first.stop();
          await second?.stop();
        }
      })(),
    ),
});
