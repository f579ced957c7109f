import assert from "node:assert/strict";
import {
  decodeFrame,
  ExecutorMux,
  openHarnessStream,
  type RelayMessageFrame,
  type RelayTransport,
  websocketLink,
} from "../../lib/relay/mod.ts";
import { captureLog, serveEcho, textOf, until } from "./_helpers.ts";
import { rawData, rawReset, rawResume } from "./_raw_frames.ts";
import { simLinkPair } from "./_sim_network.ts";
import { openSocket, socketClosed, startWsRendezvous } from "./_ws_rendezvous.ts";

const decoder = new TextDecoder();

Deno.test({
  name:
    "legacy harness (hand-written frames, never acks) gets every response exactly once, in order",
  timeout: 15_000,
}, async () => {
  const rendezvous = await startWsRendezvous();
  const executorSocket = await openSocket(`${rendezvous.url}?role=environment`);
  const executorStreams = new Map<string, RelayTransport>();
  const served: Promise<unknown>[] = [];
  const { lines, log } = captureLog();
  const mux = new ExecutorMux(websocketLink(executorSocket), {
    log,
    // Short timers: a retransmission, if any were wrongly sent, would show within the wait.
    initialRtoMs: 20,
    minRtoMs: 5,
    onStream(transport) {
      executorStreams.set(transport.id, transport);
      served.push(serveEcho(transport).catch(() => {}));
    },
  });
  const legacy = await openSocket(`${rendezvous.url}?role=harness`);
  const frames: RelayMessageFrame[] = [];
  legacy.addEventListener("message", (event) => {
    assert.ok(event.data instanceof ArrayBuffer, "executor must send binary frames");
    frames.push(decodeFrame(new Uint8Array(event.data)));
  });
  try {
    // Upstream legacy harness: resume{0} claims each stream, then one message per data frame.
    legacy.send(rawResume("stream-a"));
    legacy.send(rawResume("stream-b"));
    const big = "L".repeat(150 * 1024);
    for (let seq = 0; seq < 10; seq++) {
      legacy.send(
        rawData(
          "stream-a",
          seq,
          JSON.stringify({ id: seq + 1, method: "echo", params: `a${seq}` }),
        ),
      );
      legacy.send(
        rawData(
          "stream-b",
          seq,
          JSON.stringify({ id: seq + 1, method: "echo", params: `b${seq}` }),
        ),
      );
    }
    legacy.send(rawData("stream-a", 10, JSON.stringify({ id: 11, method: "echo", params: big })));
    await until(
      5000,
      "all legacy responses",
      () => frames.filter((f) => f.body.case === "data").length >= 21,
    );
    // Reset stream-a; stream-b must still be served.
    legacy.send(rawReset("stream-a", "test_reset"));
    await until(
      2000,
      "stream-a ends",
      () =>
        !executorStreams.get("stream-a") ||
        executorStreams.get("stream-a")!.endReason !== undefined,
    );
    legacy.send(rawData("stream-b", 10, JSON.stringify({ id: 11, method: "echo", params: "b10" })));
    await until(
      5000,
      "stream-b still answered",
      () => frames.filter((f) => f.body.case === "data").length >= 22,
    );
    // Wait well past several retransmission timeouts: nothing more may arrive.
    await new Promise((resolve) => setTimeout(resolve, 300));

    assert.match(executorStreams.get("stream-a")!.endReason ?? "", /reset by peer \(test_reset\)/);
    for (const frame of frames) {
      assert.equal(
        frame.body.case,
        "data",
        `legacy peers get only data frames, got ${frame.body.case}`,
      );
      assert.equal(frame.ack, undefined, "legacy peers never see acks");
      assert.equal(frame.ackBits, 0);
    }
    for (const [id, prefix, count] of [["stream-a", "a", 11], ["stream-b", "b", 11]] as const) {
      const data = frames.filter((f) => f.streamId === id).map((f) => {
        assert.ok(f.body.case === "data");
        return f.body.value;
      });
      assert.equal(data.length, count, `${id}: ${data.length} responses`);
      data.forEach((d, seq) => {
        assert.equal(d.seq, seq);
        assert.equal(d.segmentIndex, 0);
        assert.equal(d.segmentCount, 1, "never segmented for legacy peers");
        const reply = JSON.parse(decoder.decode(d.payload));
        assert.equal(reply.id, seq + 1);
        assert.equal(reply.result, seq === 10 && id === "stream-a" ? big : `${prefix}${seq}`);
      });
    }
    assert.equal(executorStreams.get("stream-b")!.mode, "legacy");
    assert.ok(lines.every((line) => !line.includes("resetting")), lines.join("\n"));
  } finally {
    mux.close();
    legacy.close();
    await Promise.all([socketClosed(legacy), socketClosed(executorSocket)]);
    await rendezvous.close();
    await Promise.allSettled(served);
  }
});

Deno.test({
  name: "harness falls back to legacy mode against an executor that never acks",
  timeout: 15_000,
}, async () => {
  const [harnessEnd, executorEnd] = simLinkPair("to legacy executor");
  const received: RelayMessageFrame[] = [];
  let outSeq = 0;
  executorEnd.attach({
    onMessage(data) {
      const frame = decodeFrame(data as Uint8Array);
      received.push(frame);
      if (frame.body.case !== "data") return;
      // An upstream legacy executor: answer each request with one whole data frame, no acks.
      const request = JSON.parse(decoder.decode(frame.body.value.payload));
      executorEnd.send(
        rawData(
          frame.streamId,
          outSeq++,
          JSON.stringify({ id: request.id, result: request.params }),
        ),
      );
    },
    onClose() {},
  });
  const { lines, log } = captureLog();
  const harness = openHarnessStream(harnessEnd, {
    streamId: "h",
    negotiateTimeoutMs: 150,
    initialRtoMs: 20,
    log,
  });
  try {
    const big = "B".repeat(100 * 1024);
    await harness.send(JSON.stringify({ id: 1, method: "echo", params: "small" }));
    await harness.send(JSON.stringify({ id: 2, method: "echo", params: big }));
    const replies: string[] = [];
    for await (const item of harness.receive()) {
      replies.push(textOf(item));
      if (replies.length === 2) break;
    }
    assert.deepEqual(replies.map((r) => JSON.parse(r).result), ["small", big]);
    assert.equal(harness.mode, "legacy");
    await new Promise((resolve) => setTimeout(resolve, 100));
    const data = received.filter((f) => f.body.case === "data");
    assert.equal(data.length, 2, "one whole frame per message, no retransmissions");
    for (const frame of data) {
      assert.ok(frame.body.case === "data");
      assert.equal(frame.body.value.segmentCount, 1);
      assert.equal(frame.ack, undefined);
    }
    assert.equal(received[0].body.case, "resume", "the first frame claims the stream");
    assert.ok(lines.some((line) => line.includes("legacy executor")), lines.join("\n"));
  } finally {
    harness.close();
    await harness.closed;
  }
});

Deno.test({
  name:
    "a harness whose event loop stalls past the negotiate timeout still negotiates reliable with our executor",
  timeout: 15_000,
}, async () => {
  // A big synchronous job (building a 10 MiB message under load took 3+ s) delays the
  // negotiation timer; when it finally fires, the executor's answer is already waiting unread.
  // Taking the peer for legacy then would send it whole messages it answers segmented.
  const [harnessEnd, executorEnd] = simLinkPair("stalled harness");
  const { lines, log } = captureLog();
  const mux = new ExecutorMux(executorEnd, { log, onStream: (t) => void serveEcho(t) });
  const harness = openHarnessStream(harnessEnd, {
    streamId: "stall",
    negotiateTimeoutMs: 200,
    log,
  });
  try {
    const stallUntil = performance.now() + 600;
    while (performance.now() < stallUntil) {
      // Busy: no timer, no I/O callback can run.
    }
    await harness.send(JSON.stringify({ id: 1, method: "echo", params: "after the stall" }));
    for await (const item of harness.receive()) {
      assert.equal(JSON.parse(textOf(item)).result, "after the stall");
      break;
    }
    assert.equal(harness.mode, "reliable", lines.join("\n"));
    assert.ok(!lines.some((line) => line.includes("legacy executor")), lines.join("\n"));
  } finally {
    harness.close();
    await harness.closed;
    mux.close();
  }
});
