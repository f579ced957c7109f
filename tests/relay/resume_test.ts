import assert from "node:assert/strict";
import {
  decodeFrame,
  ExecutorMux,
  openHarnessStream,
  type RelayStreamOptions,
  type RelayTransport,
} from "../../lib/relay/mod.ts";
import { captureLog, serveEcho, textOf, until, within } from "./_helpers.ts";
import { SimRendezvous } from "./_sim_network.ts";

const OPTIONS: RelayStreamOptions = {
  initialRtoMs: 40,
  minRtoMs: 10,
  maxRtoMs: 300,
  windowSegments: 16,
  windowBytes: 512 * 1024,
};

Deno.test({
  name: "streams survive the executor link being replaced: resume resends what was lost",
  timeout: 15_000,
}, async () => {
  const rendezvous = new SimRendezvous({ executor: { delayMs: 2 }, harness: { delayMs: 1 } });
  const { lines, log } = captureLog();
  const executorStreams: RelayTransport[] = [];
  const served: Promise<string[]>[] = [];
  let lost = 0;
  const mux = new ExecutorMux(rendezvous.connectExecutor(), {
    ...OPTIONS,
    log,
    onStream(transport) {
      executorStreams.push(transport);
      served.push(serveEcho(transport));
    },
    onLinkLost() {
      lost++;
    },
  });
  const harnesses = Array.from(
    { length: 3 },
    (_, n) =>
      openHarnessStream(rendezvous.connectHarness(), { ...OPTIONS, streamId: `r-${n}`, log }),
  );
  try {
    const runs = harnesses.map(async (harness, n) => {
      const total = 60;
      const reader = (async () => {
        const got: unknown[] = [];
        for await (const item of harness.receive()) {
          got.push(JSON.parse(textOf(item)).result);
          if (got.length === total) break;
        }
        return got;
      })();
      for (let i = 0; i < total; i++) {
        await harness.send(
          JSON.stringify({ id: i, method: "echo", params: `${n}:${i}:${"p".repeat(i * 1500)}` }),
        );
        if (i % 10 === 9) await new Promise((resolve) => setTimeout(resolve, 5));
      }
      const got = await reader;
      assert.deepEqual(
        got,
        Array.from({ length: total }, (_, i) => `${n}:${i}:${"p".repeat(i * 1500)}`),
      );
    });
    // Cut the executor's link twice mid-transfer; the "executor loop" reconnects after a pause.
    for (const pause of [30, 60]) {
      await new Promise((resolve) => setTimeout(resolve, 40));
      rendezvous.cutExecutor();
      await until(1000, "link loss noticed", () => !mux.attached);
      await new Promise((resolve) => setTimeout(resolve, pause));
      mux.replaceLink(rendezvous.connectExecutor());
    }
    await within(15_000, "all echoes after two reconnects", Promise.all(runs));
    assert.equal(lost, 2);
    assert.equal(executorStreams.length, 3, "no stream was recreated");
    assert.ok(executorStreams.every((t) => t.endReason === undefined && t.mode === "reliable"));
    const resent = [...executorStreams, ...harnesses].reduce(
      (n, t) => n + t.stats().retransmissions,
      0,
    );
    assert.ok(resent > 0, "the cuts lost frames that had to be resent");
  } finally {
    for (const harness of harnesses) harness.close();
    await Promise.all(harnesses.map((h) => h.closed));
    mux.close();
    rendezvous.close();
    await Promise.allSettled(served);
  }
  // Each request was served exactly once, in order.
  for (const seen of await Promise.all(served)) {
    const ids = seen.map((text) => JSON.parse(text).id);
    assert.deepEqual(ids, Array.from({ length: 60 }, (_, i) => i));
  }
  assert.ok(lines.every((line) => !line.includes("resetting")), lines.join("\n"));
});

Deno.test({
  name: "heartbeats detect a silently dead link on both ends",
  timeout: 15_000,
}, async () => {
  const rendezvous = new SimRendezvous();
  const fast: RelayStreamOptions = {
    heartbeatIntervalMs: 40,
    deadAfterMs: 200,
    initialRtoMs: 20,
    minRtoMs: 10,
  };
  const executor = captureLog();
  let lostReason = "";
  const executorStreams: RelayTransport[] = [];
  const served: Promise<string[]>[] = [];
  // Frames each end puts on its link, counted without touching them: heartbeats from the
  // harness, and anything at all (the acks that answer them) from the executor.
  let harnessHeartbeats = 0;
  let executorFrames = 0;
  const executorLink = rendezvous.connectExecutor();
  executorLink.dropMatching(() => {
    executorFrames++;
    return false;
  }, Infinity);
  const mux = new ExecutorMux(executorLink, {
    ...fast,
    log: executor.log,
    detachedTtlMs: 100,
    onStream(transport) {
      executorStreams.push(transport);
      served.push(serveEcho(transport).catch(() => []));
    },
    onLinkLost(reason) {
      lostReason = reason;
    },
  });
  const harnessLink = rendezvous.connectHarness();
  harnessLink.dropMatching((frame) => {
    if (decodeFrame(frame).body.case === "heartbeat") harnessHeartbeats++;
    return false;
  }, Infinity);
  const harnessLog = captureLog();
  const harness = openHarnessStream(harnessLink, { ...fast, streamId: "hb", log: harnessLog.log });
  try {
    await harness.send(JSON.stringify({ id: 1, method: "echo", params: 1 }));
    for await (const _ of harness.receive()) break;
    // Idle but alive: heartbeats keep both ends up well past deadAfterMs. Counted, not timed:
    // the harness heartbeats only after a heartbeat interval of silence, so 10 of them, each
    // answered, span at least 10 x 40 ms = twice deadAfterMs of nothing but heartbeats and
    // acks, however late a loaded machine runs the timers.
    const answeredBefore = executorFrames;
    await until(10_000, "10 heartbeats, each answered", () => {
      assert.equal(harness.endReason, undefined);
      assert.equal(lostReason, "");
      return harnessHeartbeats >= 10 && executorFrames - answeredBefore >= 10;
    });
    harnessLink.blackhole();
    await within(2000, "harness notices", harness.closed);
    assert.match(harness.endReason ?? "", /no traffic/);
    await until(2000, "executor notices", () => lostReason !== "");
    assert.match(lostReason, /no traffic/);
    // Without a new link the detached stream expires.
    await within(2000, "executor stream expires", executorStreams[0].closed);
    assert.ok(harnessLog.lines.some((line) => line.includes("despite heartbeats")));
  } finally {
    harness.close();
    mux.close();
    rendezvous.close();
    await Promise.allSettled(served);
  }
});

Deno.test({
  name: "backpressure: a reader that stops makes the sender's send() wait, memory stays bounded",
  timeout: 15_000,
}, async () => {
  const rendezvous = new SimRendezvous();
  const limits: RelayStreamOptions = {
    ...OPTIONS,
    deliveryQueueBytes: 64 * 1024,
    sendBufferBytes: 128 * 1024,
  };
  let release!: () => void;
  const gate = new Promise<void>((resolve) => release = resolve);
  const received: string[] = [];
  let executorStream: RelayTransport | undefined;
  let peakQueue = 0;
  const reading = Promise.withResolvers<void>();
  const mux = new ExecutorMux(rendezvous.connectExecutor(), {
    ...limits,
    onStream(transport) {
      executorStream = transport;
      (async () => {
        await gate;
        for await (const item of transport.receive()) {
          received.push(textOf(item));
          if (received.length === 40) break;
        }
        reading.resolve();
      })();
    },
  });
  const harness = openHarnessStream(rendezvous.connectHarness(), { ...limits, streamId: "bp" });
  try {
    let sent = 0;
    const sending = (async () => {
      for (let i = 0; i < 40; i++) {
        await harness.send(`${i}:${"q".repeat(50 * 1024)}`);
        sent++;
      }
    })();
    const sampler = setInterval(() => {
      if (executorStream) {
        peakQueue = Math.max(peakQueue, executorStream.stats().deliveryQueueBytes);
      }
    }, 2);
    await new Promise((resolve) => setTimeout(resolve, 400));
    clearInterval(sampler);
    assert.ok(sent < 40, `send() never waited (sent ${sent})`);
    const stats = harness.stats();
    assert.ok(stats.outboxBytes <= 128 * 1024 + 51 * 1024, `outbox ${stats.outboxBytes}`);
    assert.ok(peakQueue <= 64 * 1024 + 51 * 1024, `delivery queue peaked at ${peakQueue}`);
    release();
    await within(
      10_000,
      "all delivered after the reader resumes",
      Promise.all([sending, reading.promise]),
    );
    assert.deepEqual(
      received.map((text) => Number(text.split(":")[0])),
      Array.from({ length: 40 }, (_, i) => i),
    );
  } finally {
    release();
    harness.close();
    await harness.closed;
    mux.close();
    rendezvous.close();
  }
});
