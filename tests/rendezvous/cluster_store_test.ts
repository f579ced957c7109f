import assert from "node:assert/strict";
import { connect } from "@nats-io/transport-node";
import { joinCluster, KvRegistryStore } from "../../lib/rendezvous/cluster/mod.ts";
import { startRendezvous, UrlSigner } from "../../lib/rendezvous/mod.ts";
import { within } from "../relay/_helpers.ts";
import { NO_NATS, startNats } from "./_nats.ts";

const opts = { ignore: NO_NATS, sanitizeOps: false, sanitizeResources: false };

Deno.test({
  timeout: 30_000,
  name: "cluster store: registrations, leases and the signing secret are shared; leases expire",
  ...opts,
  fn: () =>
    within(
      30_000,
      "cluster store test",
      (async () => {
        await using nats = await startNats();
        const ncA = await connect({ servers: nats.url });
        const ncB = await connect({ servers: nats.url });
        const a = await KvRegistryStore.open(ncA, {
          nodeId: "A",
          nodeUrl: "ws://127.0.0.1:1001",
          leaseTtlMs: 1500,
        });
        const b = await KvRegistryStore.open(ncB, {
          nodeId: "B",
          nodeUrl: "ws://127.0.0.1:1002",
          leaseTtlMs: 60_000, // the bucket exists: A's TTL wins
        });
        try {
          assert.equal(b.leaseTtlMs, 1500);
          assert.deepEqual(await a.signingSecret(), await b.signingSecret());
          assert.equal((await a.signingSecret()).length, 32);
          await a.putRegistration("executor", "e1", {
            registrationId: "reg_1",
            labels: { x: "y" },
          });
          assert.deepEqual(await b.getRegistration("executor", "e1"), {
            registrationId: "reg_1",
            labels: { x: "y" },
          });
          // Ids outside the KV key alphabet are stored encoded, never confused with others.
          await a.putRegistration("environment", "env ü/..", { n: 1 });
          assert.deepEqual(await b.getRegistration("environment", "env ü/.."), { n: 1 });
          assert.equal(await b.getRegistration("environment", "env"), undefined);
          assert.equal(await b.locate("e1"), undefined);
          await a.claim("e1");
          assert.equal(await b.locate("e1"), "A");
          assert.equal(await b.nodeUrl("A"), "ws://127.0.0.1:1001");
          // A keeps its lease alive past several TTLs.
          await new Promise((r) => setTimeout(r, 3200));
          assert.equal(await b.locate("e1"), "A");
          // B takes the executor: A learns it lost it at its next keepalive.
          const lost = Promise.withResolvers<string>();
          await a.claim("e2", (by) => lost.resolve(by));
          await b.claim("e2");
          assert.equal(await within(3000, "A to see e2 taken", lost.promise), "B");
          assert.equal(await a.locate("e2"), "B");
          assert.equal(a.claimedCount, 1);
          // Release by a node that no longer holds it leaves the holder's lease.
          await a.release("e2");
          assert.equal(await a.locate("e2"), "B");
          await b.release("e2");
          assert.equal(await a.locate("e2"), undefined);
          // A node that stops renewing (killed) loses its leases within one TTL.
          await ncA.close();
          const stoppedAt = performance.now();
          while ((await b.locate("e1")) !== undefined) {
            assert.ok(performance.now() - stoppedAt < 4000, "lease of a dead node never expired");
            await new Promise((r) => setTimeout(r, 100));
          }
          assert.equal(await b.nodeAlive("A"), false);
          assert.equal(await b.nodeAlive("B"), true);
        } finally {
          await b.close();
          await ncB.close();
          if (!ncA.isClosed()) await ncA.close();
        }
      })(),
    ),
});

Deno.test({
  timeout: 40_000,
  name: "cluster: /readyz follows the NATS link; URLs name their node and other nodes refuse them",
  ...opts,
  fn: () =>
    within(
      40_000,
      "readyz test",
      (async () => {
        await using nats = await startNats();
        const cluster = await joinCluster({
          servers: nats.url,
          nodeId: "n1",
          nodeUrl: "ws://127.0.0.1:1",
          leaseTtlMs: 3000,
        });
        const server = await startRendezvous({
          hostname: "127.0.0.1",
          port: 0,
          store: cluster.store,
          router: cluster.router,
          log: () => {},
        });
        const other = await joinCluster({
          servers: nats.url,
          nodeId: "n2",
          nodeUrl: "ws://127.0.0.1:2",
        });
        const second = await startRendezvous({
          hostname: "127.0.0.1",
          port: 0,
          store: other.store,
          router: other.router,
          log: () => {},
        });
        try {
          const ready = await fetch(`${server.url}/readyz`);
          assert.equal(ready.status, 200);
          assert.match(await ready.text(), /^ok: NATS .*node n1/);
          const metrics = await (await fetch(`${server.url}/metrics`)).text();
          assert.match(metrics, /^# TYPE rendezvous_executors_online gauge$/m);
          assert.match(metrics, /^rendezvous_ready\{node="n1"\} 1$/m);
          // An executor URL issued by n1 names n1: n2 verifies the signature but refuses it.
          const registered = await fetch(`${server.url}/cloud/executor/e1/register`, {
            method: "POST",
            body: JSON.stringify({ name: "box" }),
          }).then((r) => r.json());
          const issued = new URL(registered.url);
          assert.equal(issued.searchParams.get("node"), "n1");
          const signer = await UrlSigner.create(await other.store.signingSecret());
          const claims = await signer.verify(issued);
          assert.equal(typeof claims, "object", String(claims));
          const wrong = await fetch(
            `${second.url}${issued.pathname}${issued.search}`,
            { headers: { upgrade: "websocket" } },
          );
          assert.equal(wrong.status, 421);
          assert.equal((await wrong.json()).error.code, "wrong_node");
          // Registered on n1, visible on n2: offline there too (no socket anywhere yet).
          const offline = await fetch(`${second.url}/cloud/executor/e1/connect`, {
            method: "POST",
          });
          assert.equal(offline.status, 409);
          await offline.body?.cancel();
          // NATS goes away: not ready (503, saying why) and the metric says so.
          await nats.stop();
          const deadline = Date.now() + 10_000;
          for (;;) {
            const r = await fetch(`${server.url}/readyz`);
            const text = await r.text();
            if (r.status === 503) {
              assert.match(text, /^not ready: NATS/);
              break;
            }
            assert.ok(Date.now() < deadline, `readyz stayed ${r.status} ${text}`);
            await new Promise((res) => setTimeout(res, 50));
          }
          const down = await (await fetch(`${server.url}/metrics`)).text();
          assert.match(down, /^rendezvous_ready\{node="n1"\} 0$/m);
        } finally {
          await server.shutdown();
          await second.shutdown();
          await Promise.race([
            Promise.allSettled([cluster.nc.close(), other.nc.close()]),
            new Promise((r) => setTimeout(r, 1000)),
          ]);
        }
      })(),
    ),
});
