import assert from "node:assert/strict";
import {
  decodeFrame,
  ExecutorMux,
  openHarnessStream,
  type RelayStreamOptions,
  type RelayTransport,
} from "../../lib/relay/mod.ts";
import { captureLog, serveEcho, textOf, within } from "./_helpers.ts";
import { SimRendezvous } from "./_sim_network.ts";

/**
 * A retransmission timeout far longer than the test waits: a message that arrives in time was
 * resent by the fast path, never by the timer.
 */
const SLOW_TIMER: RelayStreamOptions = {
  initialRtoMs: 5000,
  minRtoMs: 5000,
  maxRtoMs: 10_000,
  negotiateTimeoutMs: 30_000,
  closeTimeoutMs: 2000,
};

function isData(seq: number): (frame: Uint8Array) => boolean {
  return (frame) => {
    const decoded = decodeFrame(frame);
    return decoded.body.case === "data" && decoded.body.value.seq === seq;
  };
}

/** Sends `count` echo requests from a harness whose link loses data seq 2 `drops` times. */
async function echoWithHole(drops: number, count: number) {
  const rendezvous = new SimRendezvous({ harness: { delayMs: 1 } });
  const { lines, log } = captureLog();
  const served: Promise<string[]>[] = [];
  const mux = new ExecutorMux(rendezvous.connectExecutor(), {
    ...SLOW_TIMER,
    log,
    onStream(transport) {
      served.push(serveEcho(transport));
    },
  });
  const link = rendezvous.connectHarness();
  link.dropMatching(isData(2), drops);
  const harness: RelayTransport = openHarnessStream(link, { ...SLOW_TIMER, streamId: "hole" });
  try {
    const started = performance.now();
    const replies = within(
      2000,
      "echoes despite the hole",
      (async () => {
        const got: number[] = [];
        for await (const item of harness.receive()) {
          got.push(JSON.parse(textOf(item)).id);
          if (got.length === count) break;
        }
        return got;
      })(),
    );
    for (let id = 0; id < count; id++) {
      await harness.send(JSON.stringify({ id, method: "echo", params: id }));
    }
    assert.deepEqual(await replies, Array.from({ length: count }, (_, id) => id));
    return { elapsed: performance.now() - started, stats: harness.stats(), logs: lines };
  } finally {
    harness.close();
    mux.close();
    rendezvous.close();
    await harness.closed;
    await Promise.allSettled(served);
  }
}

Deno.test({
  name:
    "fast retransmit: a segment lost once is resent as soon as acks show the hole, long before the timeout",
  timeout: 15_000,
}, async () => {
  const { elapsed, stats, logs } = await echoWithHole(1, 10);
  // Counted, not timed: every resend was a fast one, so the 5 s timer never fired.
  console.log(`filled the hole in ${elapsed.toFixed(0)} ms`);
  assert.ok(stats.fastRetransmissions >= 1, `no fast retransmission: ${JSON.stringify(stats)}`);
  // One resend fills the hole; a second is tolerated only if its ack was slower than an RTT.
  assert.ok(stats.retransmissions <= 2, `resend storm: ${JSON.stringify(stats)}`);
  assert.equal(stats.retransmissions, stats.fastRetransmissions);
  assert.deepEqual(logs, []);
});

Deno.test({
  name:
    "fast retransmit: a hole whose resends are lost too is resent about once per RTT, not in a storm",
  timeout: 15_000,
}, async () => {
  const { elapsed, stats } = await echoWithHole(3, 10);
  // Counted, not timed: every resend was a fast one, so the 5 s timer never fired.
  console.log(`filled the hole in ${elapsed.toFixed(0)} ms`);
  assert.ok(stats.fastRetransmissions >= 3, `too few fast resends: ${JSON.stringify(stats)}`);
  assert.ok(stats.retransmissions <= 5, `resend storm: ${JSON.stringify(stats)}`);
  assert.equal(stats.retransmissions, stats.fastRetransmissions);
});
