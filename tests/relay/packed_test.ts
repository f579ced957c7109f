import assert from "node:assert/strict";
import {
  decodeFrame,
  ExecutorMux,
  openHarnessStream,
  type RelayMessageFrame,
  type RelayTransport,
} from "../../lib/relay/mod.ts";
import { FEATURE_PACKED } from "../../lib/relay/limits.ts";
import { captureLog, textOf, until, within } from "./_helpers.ts";
import { rawAck, rawData, rawResume } from "./_raw_frames.ts";
import { type SimLinkEnd, SimRendezvous } from "./_sim_network.ts";

const decoder = new TextDecoder();
const OPTIONS = { negotiateTimeoutMs: 30_000, closeTimeoutMs: 2000 };

/** On "burst", sends `params.count` notifications of `params.size` bytes without waiting. */
async function serveBursts(transport: RelayTransport): Promise<void> {
  for await (const item of transport.receive()) {
    const request = JSON.parse(textOf(item));
    if (request.method !== "burst") continue;
    const { count, size } = request.params;
    for (let n = 0; n < count; n++) {
      transport.send(JSON.stringify({ method: "note", params: { n, pad: "p".repeat(size) } }));
    }
  }
}

/** Records the frames a link end sends (what its endpoint wrote). */
function tapSent(link: SimLinkEnd): RelayMessageFrame[] {
  const frames: RelayMessageFrame[] = [];
  const send = link.send.bind(link);
  link.send = (data: Uint8Array | string) => {
    if (typeof data !== "string") frames.push(decodeFrame(data));
    send(data);
  };
  return frames;
}

function dataFrames(frames: RelayMessageFrame[]) {
  return frames.flatMap((f) => f.body.case === "data" ? [f.body.value] : []);
}

async function receiveNotes(harness: RelayTransport, count: number): Promise<number[]> {
  const got: number[] = [];
  for await (const item of harness.receive()) {
    got.push(JSON.parse(textOf(item)).params.n);
    if (got.length === count) break;
  }
  return got;
}

/**
 * A harness stream opened against a raw executor link whose frames are recorded; disposing of it
 * closes the stream and the simulated rendezvous.
 */
function rawExecutor(
  options: Partial<Parameters<typeof openHarnessStream>[1]> & { streamId: string },
) {
  const rendezvous = new SimRendezvous();
  const executor = rendezvous.connectExecutor();
  const received: RelayMessageFrame[] = [];
  executor.attach({
    onMessage: (data) => received.push(decodeFrame(data as Uint8Array)),
    onClose() {},
  });
  const harness = openHarnessStream(rendezvous.connectHarness(), { ...OPTIONS, ...options });
  return {
    executor,
    received,
    harness,
    /** Waits for the harness's hello, answers it announcing packing, waits for reliable mode. */
    async handshakePacked(): Promise<void> {
      await until(5000, "the hello", () => received.some((f) => f.body.case === "ackFrame"));
      executor.send(rawAck(options.streamId, undefined, 0, FEATURE_PACKED));
      await until(5000, "reliable", () => harness.mode === "reliable");
    },
    async [Symbol.asyncDispose]() {
      harness.close();
      rendezvous.close();
      await harness.closed;
    },
  };
}

Deno.test({
  name:
    "packed: text of every UTF-8 width, packed or cut into segments, arrives byte-exact (a lone surrogate as U+FFFD, as TextEncoder writes it)",
  timeout: 30_000,
}, async () => {
  const texts = [
    "plain",
    "é€😀 mixed widths",
    "x\ud800y lone high, \udc00 lone low",
    "€".repeat(30_000), // 90 KB: more than one segment, so not packed
    `{"tail":"${"😀".repeat(5000)}\ud83d"}`,
    "after the large ones",
  ];
  const rendezvous = new SimRendezvous();
  const served = Promise.withResolvers<void>();
  const mux = new ExecutorMux(rendezvous.connectExecutor(), {
    ...OPTIONS,
    onStream: (transport) => {
      (async () => {
        for await (const _ of transport.receive()) {
          for (const text of texts) transport.send(text);
        }
      })().then(served.resolve, served.reject);
    },
  });
  const harness = openHarnessStream(rendezvous.connectHarness(), { ...OPTIONS, streamId: "utf8" });
  try {
    await harness.send("go");
    const got: string[] = [];
    await within(
      10_000,
      "every text",
      (async () => {
        for await (const item of harness.receive()) {
          got.push(textOf(item));
          if (got.length === texts.length) break;
        }
      })(),
    );
    assert.equal(harness.mode, "reliable");
    const expected = texts.map((t) => decoder.decode(new TextEncoder().encode(t)));
    assert.equal(got.length, expected.length);
    for (const [i, text] of expected.entries()) assert.ok(got[i] === text, `text ${i} differs`);
  } finally {
    harness.close();
    await harness.closed;
    mux.close();
    rendezvous.close();
    await served.promise.catch(() => {});
  }
});

Deno.test({
  name:
    "packed: ours to ours, a burst of small notifications travels several per segment, each once and in order, also over a lossy link",
  timeout: 30_000,
}, async () => {
  for (const loss of [0, 0.15]) {
    const rendezvous = new SimRendezvous({ harness: { delayMs: 1, loss, seed: 7 } });
    const executorLink = rendezvous.connectExecutor();
    const sent = tapSent(executorLink);
    const { lines, log } = captureLog();
    const served: Promise<void>[] = [];
    const mux = new ExecutorMux(executorLink, {
      ...OPTIONS,
      initialRtoMs: 40,
      minRtoMs: 10,
      log,
      onStream: (transport) => served.push(serveBursts(transport)),
    });
    const harness = openHarnessStream(rendezvous.connectHarness(), {
      ...OPTIONS,
      initialRtoMs: 40,
      minRtoMs: 10,
      streamId: "burst",
    });
    try {
      const count = 400;
      const notes = receiveNotes(harness, count);
      await harness.send(JSON.stringify({ id: 1, method: "burst", params: { count, size: 1000 } }));
      assert.deepEqual(
        await within(20_000, `${count} notes (loss ${loss})`, notes),
        Array.from({ length: count }, (_, n) => n),
      );
      const answer = sent.find((f) => f.body.case === "ackFrame");
      assert.ok(answer?.body.case === "ackFrame");
      assert.equal(answer.body.value.features, FEATURE_PACKED, "the executor announces packing");
      // Distinct seqs carried the burst: retransmissions repeat a seq, they do not add one.
      const seqs = new Set(dataFrames(sent).map((d) => d.seq));
      assert.ok(seqs.size <= count / 20, `${seqs.size} segments for ${count} notes of ~1 KiB`);
      for (const data of dataFrames(sent)) {
        assert.equal(data.segmentCount, 1);
        assert.equal(data.payload[0], 0, "a packed segment starts with a zero byte");
      }
      if (loss > 0) assert.ok(harness.stats().expectedSeq > 0);
      assert.deepEqual(lines, []);
    } finally {
      harness.close();
      await harness.closed;
      mux.close();
      rendezvous.close();
      await Promise.allSettled(served);
    }
  }
});

Deno.test({
  name:
    "packed: a harness that does not announce it (an older one of ours) gets one whole message per segment",
  timeout: 15_000,
}, async () => {
  const rendezvous = new SimRendezvous();
  const served: Promise<void>[] = [];
  const mux = new ExecutorMux(rendezvous.connectExecutor(), {
    ...OPTIONS,
    onStream: (transport) => served.push(serveBursts(transport)),
  });
  const old = rendezvous.connectHarness();
  const received: RelayMessageFrame[] = [];
  old.attach({ onMessage: (data) => received.push(decodeFrame(data as Uint8Array)), onClose() {} });
  try {
    old.send(rawResume("old"));
    old.send(rawAck("old")); // the hello of a harness from before packing: no features
    await until(5000, "the executor's answer", () => received.length > 0);
    old.send(
      rawData(
        "old",
        0,
        JSON.stringify({ id: 1, method: "burst", params: { count: 40, size: 100 } }),
        { ack: undefined },
      ),
    );
    await until(5000, "40 notes", () => dataFrames(received).length >= 40);
    const data = dataFrames(received);
    assert.equal(data.length, 40);
    data.forEach((d, n) => {
      assert.equal(d.seq, n);
      assert.equal(d.segmentCount, 1);
      assert.equal(JSON.parse(decoder.decode(d.payload)).params.n, n);
    });
  } finally {
    mux.close();
    rendezvous.close();
    await Promise.allSettled(served);
  }
});

Deno.test({
  name:
    "packed: our harness announces it, and sends an executor that does not (an older one of ours) one whole message per segment",
  timeout: 15_000,
}, async () => {
  await using raw = rawExecutor({ streamId: "h" });
  const { executor: old, received, harness } = raw;
  await until(5000, "the hello", () => received.some((f) => f.body.case === "ackFrame"));
  const hello = received.find((f) => f.body.case === "ackFrame")!;
  assert.ok(hello.body.case === "ackFrame");
  assert.equal(hello.body.value.features, FEATURE_PACKED, "the harness announces packing");
  old.send(rawAck("h")); // an older executor's answer: no features
  await until(5000, "reliable", () => harness.mode === "reliable");
  for (let id = 1; id <= 30; id++) harness.send(JSON.stringify({ id, method: "x" }));
  await until(5000, "30 requests", () => dataFrames(received).length >= 30);
  const data = dataFrames(received);
  assert.equal(data.length, 30);
  data.forEach((d, n) => assert.equal(JSON.parse(decoder.decode(d.payload)).id, n + 1));
});

Deno.test({
  name:
    "packed: a malformed packed segment resets the stream and delivers none of its messages; a NUL-first message is refused",
  timeout: 15_000,
}, async () => {
  const { lines, log } = captureLog();
  await using raw = rawExecutor({
    log,
    streamId: "m",
  });
  const { executor, harness } = raw;
  await raw.handshakePacked();
  await assert.rejects(harness.send("\u0000{}"), /cannot start with a NUL/);
  // One good message, then a length that runs past the segment's end.
  const good = new TextEncoder().encode('{"method":"a"}');
  const payload = new Uint8Array(4 + good.length + 4 + 3);
  const view = new DataView(payload.buffer);
  view.setUint32(0, good.length);
  payload.set(good, 4);
  view.setUint32(4 + good.length, 100);
  executor.send(rawData("m", 0, payload, { ack: undefined }));
  await within(5000, "the stream ends", harness.closed);
  assert.match(harness.endReason ?? "", /relay_protocol_error/);
  assert.ok(
    lines.some((l) => /packed message of 100 bytes does not fit/.test(l)),
    lines.join("\n"),
  );
  const delivered: string[] = [];
  for await (const item of harness.receive()) delivered.push(textOf(item));
  assert.deepEqual(delivered, []);
});

Deno.test({
  name:
    "packed: a harness that took the executor for a legacy one (its answer came late) still reads the packed segments that executor sends",
  timeout: 15_000,
}, async () => {
  const { lines, log } = captureLog();
  await using raw = rawExecutor({
    negotiateTimeoutMs: 100,
    log,
    streamId: "late",
  });
  const { executor, harness } = raw;
  await until(5000, "legacy fallback", () => harness.mode === "legacy");
  // The executor saw a hello announcing packing, so it packs: two messages in seq 0.
  const messages = ['{"method":"a"}', '{"method":"b"}'].map((m) => new TextEncoder().encode(m));
  const payload = new Uint8Array(messages.reduce((n, m) => n + 4 + m.length, 0));
  const view = new DataView(payload.buffer);
  let at = 0;
  for (const m of messages) {
    view.setUint32(at, m.length);
    payload.set(m, at + 4);
    at += 4 + m.length;
  }
  executor.send(rawData("late", 0, payload));
  const got: string[] = [];
  await within(
    5000,
    "both messages",
    (async () => {
      for await (const item of harness.receive()) {
        got.push(JSON.parse(textOf(item)).method);
        if (got.length === 2) break;
      }
    })(),
  );
  assert.deepEqual(got, ["a", "b"]);
  assert.ok(lines.some((l) => /assuming a legacy executor/.test(l)), lines.join("\n"));
});

Deno.test({
  name:
    "packed: tiny packed messages the application does not read are bounded by count too, not only by their bytes",
  timeout: 15_000,
}, async () => {
  const bound = 1024 * 1024;
  await using raw = rawExecutor({
    deliveryQueueBytes: bound,
    log: () => {},
    streamId: "tiny",
  });
  const { executor, harness } = raw;
  await raw.handshakePacked();
  // 40 segments of 10,000 one-byte messages: 400 KB of bytes, 400,000 queued objects.
  const perSegment = 10_000;
  const payload = new Uint8Array(perSegment * 5);
  for (let i = 0; i < perSegment; i++) {
    payload[i * 5 + 3] = 1;
    payload[i * 5 + 4] = 0x31; // "1"
  }
  for (let seq = 0; seq < 40; seq++) executor.send(rawData("tiny", seq, payload));
  await until(5000, "the segments were seen", () => harness.stats().expectedSeq > 0);
  await new Promise((resolve) => setTimeout(resolve, 200));
  const stats = harness.stats();
  // Segments past the bound wait for the peer to resend them once the application reads.
  assert.ok(stats.expectedSeq < 5, `accepted ${stats.expectedSeq} of 40 segments`);
  assert.ok(
    stats.deliveryQueueBytes <= bound + perSegment * 65,
    `queue ${stats.deliveryQueueBytes}`,
  );
});
