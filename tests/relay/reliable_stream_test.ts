import assert from "node:assert/strict";
import fc from "fast-check";
import {
  ExecutorMux,
  openHarnessStream,
  type RelayStreamOptions,
  type RelayTransport,
} from "../../lib/relay/mod.ts";
import { captureLog, serveEcho, textOf, until, within } from "./_helpers.ts";
import { type LinkConditions, SimRendezvous } from "./_sim_network.ts";

/** Small windows and fast timers so loss recovery and the bounds are exercised quickly. */
const TEST_OPTIONS: RelayStreamOptions = {
  windowSegments: 8,
  windowBytes: 256 * 1024,
  sendBufferBytes: 256 * 1024,
  receiveWindowSegments: 16,
  receiveWindowBytes: 1024 * 1024,
  deliveryQueueBytes: 1024 * 1024,
  initialRtoMs: 40,
  minRtoMs: 10,
  maxRtoMs: 300,
  negotiateTimeoutMs: 30_000,
  closeTimeoutMs: 2000,
};

interface Setup {
  rendezvous: SimRendezvous;
  mux: ExecutorMux;
  served: Map<string, Promise<string[]>>;
  executorStreams: Map<string, RelayTransport>;
  logs: string[];
}

function setup(conditions: LinkConditions, seed: number, options = TEST_OPTIONS): Setup {
  const rendezvous = new SimRendezvous({ harness: conditions, seed });
  const served = new Map<string, Promise<string[]>>();
  const executorStreams = new Map<string, RelayTransport>();
  const { lines, log } = captureLog();
  const mux = new ExecutorMux(rendezvous.connectExecutor(), {
    ...options,
    log,
    onStream(transport) {
      executorStreams.set(transport.id, transport);
      served.set(transport.id, serveEcho(transport));
    },
  });
  return { rendezvous, mux, served, executorStreams, logs: lines };
}

async function teardown(s: Setup, harnesses: RelayTransport[]): Promise<void> {
  for (const harness of harnesses) harness.close();
  s.mux.close();
  s.rendezvous.close();
  await Promise.all(harnesses.map((h) => h.closed));
  await Promise.allSettled(s.served.values());
}

Deno.test({
  name: "relay stream echoes messages in order over a perfect link and negotiates reliable mode",
  timeout: 15_000,
}, async () => {
  const s = setup({}, 1);
  const harness = openHarnessStream(s.rendezvous.connectHarness(), {
    ...TEST_OPTIONS,
    streamId: "h1",
  });
  try {
    for (let id = 1; id <= 5; id++) {
      await harness.send(JSON.stringify({ id, method: "echo", params: { n: id } }));
    }
    const replies: string[] = [];
    for await (const item of harness.receive()) {
      replies.push(textOf(item));
      if (replies.length === 5) break;
    }
    assert.deepEqual(replies.map((r) => JSON.parse(r).id), [1, 2, 3, 4, 5]);
    assert.equal(harness.mode, "reliable");
    assert.equal(s.executorStreams.get("h1")?.mode, "reliable");
  } finally {
    await teardown(s, [harness]);
  }
});

/** Drives `streams` harness streams each sending `messages`, checks exactly-once in-order echoes. */
async function exchange(
  s: Setup,
  plan: { streams: number; messages: string[][] },
  options = TEST_OPTIONS,
): Promise<{ retransmissions: number }> {
  const harnesses: RelayTransport[] = [];
  let retransmissions = 0;
  let maxInflight = 0;
  let maxReorder = 0;
  let maxQueue = 0;
  const sample = () => {
    for (const t of [...harnesses, ...s.executorStreams.values()]) {
      const st = t.stats();
      maxInflight = Math.max(maxInflight, st.inflightBytes);
      maxReorder = Math.max(maxReorder, st.reorderBytes);
      maxQueue = Math.max(maxQueue, st.deliveryQueueBytes);
      assert.ok(
        st.inflightSegments <= options.windowSegments!,
        `inflight segments ${st.inflightSegments}`,
      );
      assert.ok(st.inflightBytes <= options.windowBytes!, `inflight bytes ${st.inflightBytes}`);
      assert.ok(st.reorderBytes <= options.receiveWindowBytes!, `reorder bytes ${st.reorderBytes}`);
    }
  };
  const sampler = setInterval(sample, 3);
  try {
    const work = plan.messages.slice(0, plan.streams).map(async (messages, index) => {
      const harness = openHarnessStream(s.rendezvous.connectHarness(), {
        ...options,
        streamId: `stream-${index}`,
      });
      harnesses.push(harness);
      const reader = (async () => {
        const got: string[] = [];
        if (messages.length === 0) return got;
        for await (const item of harness.receive()) {
          got.push(textOf(item));
          if (got.length === messages.length) break;
        }
        return got;
      })();
      for (const [i, text] of messages.entries()) {
        await harness.send(JSON.stringify({ id: i, method: "echo", params: text }));
      }
      const got = await reader;
      assert.equal(got.length, messages.length);
      got.forEach((reply, i) => {
        const parsed = JSON.parse(reply);
        assert.equal(parsed.id, i, `stream ${index} reply ${i} out of order`);
        assert.equal(parsed.result, messages[i], `stream ${index} reply ${i} corrupted`);
      });
      return harness;
    });
    await within(20_000, "all echoes", Promise.all(work));
    // The executor saw every request exactly once and in order too.
    await until(
      5000,
      "executor side converged",
      () =>
        [...s.executorStreams.values()].every((t) => t.stats().inflightSegments === 0) &&
        harnesses.every((h) => h.stats().inflightSegments === 0),
    );
    for (const t of [...harnesses, ...s.executorStreams.values()]) {
      const st = t.stats();
      assert.equal(st.reorderSegments, 0);
      assert.equal(st.outboxBytes, 0);
      retransmissions += st.retransmissions;
    }
    sample();
  } finally {
    clearInterval(sampler);
    await teardown(s, harnesses);
  }
  for (const [index, messages] of plan.messages.slice(0, plan.streams).entries()) {
    const seen = await s.served.get(`stream-${index}`);
    if (messages.length === 0) continue;
    assert.deepEqual(
      seen?.slice(0, messages.length).map((t) => JSON.parse(t).params),
      messages,
      `executor stream ${index} saw requests out of order or twice`,
    );
  }
  return { retransmissions };
}

const messageArb = fc.oneof(
  { weight: 6, arbitrary: fc.string({ minLength: 0, maxLength: 300 }) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 200_000 }).map((n) => "x".repeat(n)) },
);

Deno.test({
  name:
    "property: over a lossy, duplicating, reordering link every message arrives exactly once in order",
  timeout: 30_000,
}, async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.record({
        seed: fc.integer({ min: 1, max: 1 << 30 }),
        loss: fc.double({ min: 0, max: 0.2, noNaN: true }),
        duplicate: fc.double({ min: 0, max: 0.1, noNaN: true }),
        reorder: fc.double({ min: 0, max: 0.3, noNaN: true }),
        streams: fc.integer({ min: 1, max: 4 }),
        messages: fc.array(fc.array(messageArb, { maxLength: 12 }), { minLength: 4, maxLength: 4 }),
      }),
      async ({ seed, loss, duplicate, reorder, streams, messages }) => {
        const s = setup({ loss, duplicate, reorder, delayMs: 1, reorderDelayMs: 8 }, seed);
        await exchange(s, { streams, messages });
      },
    ),
    { numRuns: 25, interruptAfterTimeLimit: 25_000 },
  );
});

Deno.test({
  name: "20% loss: many messages on several streams converge with bounded memory",
  timeout: 15_000,
}, async () => {
  const messages = Array.from(
    { length: 3 },
    (_, stream) =>
      Array.from({ length: 40 }, (_, i) => `s${stream}-m${i}-` + "y".repeat((i * 7919) % 90_000)),
  );
  const s = setup({ loss: 0.2, duplicate: 0.05, reorder: 0.2, delayMs: 1, reorderDelayMs: 6 }, 42);
  const { retransmissions } = await exchange(s, { streams: 3, messages });
  assert.ok(retransmissions > 10, `only ${retransmissions} retransmissions at 20% loss`);
  console.log(`20% loss: ${retransmissions} retransmissions`);
  assert.ok(s.logs.every((line) => !line.includes("protocol")), s.logs.join("\n"));
});
