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
  // One message per segment, so the dropped seqs are the messages the tests name.
  packMessages: false,
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

/**
 * A simulated rendezvous whose executor echoes every stream: its two link ends (to drop or
 * watch frames on) and `openHarness` for one harness stream on the harness end; disposing of
 * it closes the stream, the executor and the rendezvous.
 */
function echoRelay(muxOptions: RelayStreamOptions = {}) {
  const rendezvous = new SimRendezvous({ harness: { delayMs: 1 } });
  const served: Promise<string[]>[] = [];
  const executorLink = rendezvous.connectExecutor();
  const mux = new ExecutorMux(executorLink, {
    ...SLOW_TIMER,
    log: () => {},
    ...muxOptions,
    onStream(transport) {
      served.push(serveEcho(transport));
    },
  });
  const link = rendezvous.connectHarness();
  let harness: RelayTransport | undefined;
  return {
    executorLink,
    link,
    openHarness(options: RelayStreamOptions & { streamId: string }): RelayTransport {
      harness = openHarnessStream(link, { ...SLOW_TIMER, ...options });
      return harness;
    },
    async [Symbol.asyncDispose]() {
      harness?.close();
      mux.close();
      rendezvous.close();
      await harness?.closed;
      await Promise.allSettled(served);
    },
  };
}

/** Sends `count` echo requests from a harness whose link loses data seq 2 `drops` times. */
async function echoWithHole(drops: number, count: number) {
  const { lines, log } = captureLog();
  await using relay = echoRelay({ log });
  relay.link.dropMatching(isData(2), drops);
  const harness = relay.openHarness({ streamId: "hole" });
  const started = performance.now();
  await echoAll(harness, count, 2000);
  return { elapsed: performance.now() - started, stats: harness.stats(), logs: lines };
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

function dataSeq(frame: Uint8Array): number | undefined {
  const decoded = decodeFrame(frame);
  return decoded.body.case === "data" ? decoded.body.value.seq : undefined;
}

/** Sends `count` echo requests and waits for every reply, in order. */
async function echoAll(harness: RelayTransport, count: number, deadlineMs: number) {
  const replies = within(
    deadlineMs,
    `${count} echoes`,
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
}

Deno.test({
  name:
    "fast retransmit: a segment lost next to the end of the ack bits is resent as soon as a later one is acked, while an older hole still pins the window",
  timeout: 15_000,
}, async () => {
  await using relay = echoRelay();
  const { link } = relay;
  // Seq 2 is lost four times, so the cumulative ack stays at 1 for several round trips; seq 31
  // is lost once. The ack bits reach seq 33 (ack + 32), so three later seqs can never be seen
  // for 31 while 2 is missing: only "32 was sent after 31 and arrived" shows that 31 is lost.
  const sent: number[] = [];
  link.dropMatching((frame) => {
    const seq = dataSeq(frame);
    if (seq !== undefined) sent.push(seq);
    return false;
  }, Infinity);
  link.dropMatching(isData(2), 4);
  link.dropMatching(isData(31), 1);
  const harness = relay.openHarness({ streamId: "edge" });
  await echoAll(harness, 40, 5000);
  const stats = harness.stats();
  assert.equal(stats.retransmissions, stats.fastRetransmissions, JSON.stringify(stats));
  const lastCopyOf2 = sent.lastIndexOf(2);
  const secondCopyOf31 = sent.indexOf(31, sent.indexOf(31) + 1);
  assert.ok(secondCopyOf31 > 0, `31 never resent: ${sent.join(",")}`);
  assert.ok(
    secondCopyOf31 < lastCopyOf2,
    `31 waited for the hole at 2 to fill: ${sent.join(",")}`,
  );
});

Deno.test({
  name:
    "retransmit timer: when acks stop coming, only the oldest segment is resent; the answer to it acknowledges the rest",
  timeout: 15_000,
}, async () => {
  await using relay = echoRelay({ initialRtoMs: 200, minRtoMs: 200 });
  const { executorLink, link } = relay;
  const seen = new Set<number>();
  let resent = false;
  link.dropMatching((frame) => {
    const seq = dataSeq(frame);
    if (seq !== undefined && seen.has(seq)) resent = true;
    if (seq !== undefined) seen.add(seq);
    return false;
  }, Infinity);
  // Once the stream is up, everything the executor sends is lost until the harness has resent
  // something: every request arrived, but the harness hears nothing until its timer fires.
  executorLink.dropMatching(() => seen.size > 0 && !resent, Infinity);
  const harness = relay.openHarness({ initialRtoMs: 200, minRtoMs: 200, streamId: "acks-lost" });
  await echoAll(harness, 10, 10_000);
  const stats = harness.stats();
  // One resend (two if its answer was slower than the backed-off timer), never all ten.
  assert.ok(stats.retransmissions >= 1 && stats.retransmissions <= 2, JSON.stringify(stats));
});
