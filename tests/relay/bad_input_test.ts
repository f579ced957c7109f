import assert from "node:assert/strict";
import {
  decodeFrame,
  ExecutorMux,
  type RelayMessageFrame,
  type RelayTransport,
  SEGMENT_BYTES,
  websocketLink,
} from "../../lib/relay/mod.ts";
import { OversizedMessage } from "../../lib/transport/types.ts";
import { captureLog, textOf, until } from "./_helpers.ts";
import { rawAck, rawData, rawHandshake, rawResume, rawWithVersion } from "./_raw_frames.ts";
import { openSocket, socketClosed, startWsRendezvous } from "./_ws_rendezvous.ts";

const decoder = new TextDecoder();

Deno.test({
  name: "bad input is dropped or resets only its stream, with a log line, never a crash",
  timeout: 15_000,
}, async () => {
  const rendezvous = await startWsRendezvous();
  const executorSocket = await openSocket(`${rendezvous.url}?role=environment`);
  const streams = new Map<string, RelayTransport>();
  const inbound = new Map<string, string[]>();
  const served: Promise<void>[] = [];
  const { lines, log } = captureLog();
  const mux = new ExecutorMux(websocketLink(executorSocket), {
    log,
    maxMessageBytes: 100 * 1024,
    onStream(transport) {
      streams.set(transport.id, transport);
      const seen: string[] = [];
      inbound.set(transport.id, seen);
      served.push(
        (async () => {
          for await (const item of transport.receive()) {
            if (item instanceof OversizedMessage) {
              seen.push(`oversized>${item.limit}`);
              continue;
            }
            const text = textOf(item);
            seen.push(text);
            const message = JSON.parse(text);
            await transport.send(JSON.stringify({ id: message.id, result: message.params }));
          }
        })().catch(() => {}),
      );
    },
  });
  const peer = await openSocket(`${rendezvous.url}?role=harness`);
  const frames: RelayMessageFrame[] = [];
  peer.addEventListener(
    "message",
    (event) => frames.push(decodeFrame(new Uint8Array(event.data as ArrayBuffer))),
  );
  const framesFor = (id: string) => frames.filter((f) => f.streamId === id);
  const logged = (pattern: RegExp) => lines.some((line) => pattern.test(line));
  try {
    // A healthy legacy stream that must keep working throughout.
    peer.send(rawResume("good"));
    peer.send(rawData("good", 0, JSON.stringify({ id: 1, method: "echo", params: "before" })));

    peer.send(new Uint8Array([0xde, 0xad, 0xbe, 0xef, 0xff, 0xff]));
    peer.send("a text message");
    peer.send(rawWithVersion(2, "v2"));
    peer.send(rawResume(""));
    peer.send(rawResume("   "));
    peer.send(rawResume("x".repeat(200)));
    // A first data frame with segment fields a legacy (never acking) peer cannot send:
    // malformed, dropped without a stream or a reset (legacy executors never send reset).
    peer.send(rawData("bad-seg", 0, "{}", { count: 0 }));
    peer.send(rawData("legacy-seg", 0, "{}", { index: 0, count: 2 }));
    // A reliable peer acking a seq we never sent.
    peer.send(rawAck("bad-ack"));
    await until(2000, "hello answered", () => framesFor("bad-ack").length > 0);
    peer.send(rawAck("bad-ack", 5));
    // A reliable peer sending a message beyond maxMessageBytes in 3 segments.
    peer.send(rawAck("huge"));
    await until(2000, "hello answered", () => framesFor("huge").length > 0);
    const segment = new Uint8Array(SEGMENT_BYTES).fill(0x41);
    for (let i = 0; i < 3; i++) peer.send(rawData("huge", i, segment, { index: i, count: 3 }));
    peer.send(rawData("huge", 3, JSON.stringify({ id: 7, method: "echo", params: "after huge" })));
    // A segment_count that could only describe a message over the limit.
    peer.send(rawAck("count"));
    peer.send(rawData("count", 0, "{", { index: 0, count: 1_000_000 }));
    // Data in the middle of a stream this executor never saw (e.g. it restarted).
    peer.send(rawData("ghost", 5, "{}", { ack: 3 }));
    // A Noise handshake on a new stream.
    peer.send(rawResume("noise"));
    peer.send(rawHandshake("noise", new Uint8Array([1, 2, 3])));

    peer.send(rawData("good", 1, JSON.stringify({ id: 2, method: "echo", params: "after" })));
    await until(5000, "good answered twice", () => framesFor("good").length >= 2);
    await until(5000, "huge answered", () => framesFor("huge").some((f) => f.body.case === "data"));
    await until(
      5000,
      "resets",
      () =>
        ["bad-ack", "count", "noise", "ghost"].every((id) =>
          framesFor(id).some((f) => f.body.case === "reset")
        ),
    );

    assert.deepEqual(
      framesFor("good").map((f) =>
        f.body.case === "data" && JSON.parse(decoder.decode(f.body.value.payload)).result
      ),
      ["before", "after"],
    );
    assert.deepEqual(inbound.get("huge"), [
      `oversized>${100 * 1024}`,
      JSON.stringify({ id: 7, method: "echo", params: "after huge" }),
    ]);
    for (
      const [id, reason] of [
        ["bad-ack", "relay_protocol_error"],
        ["count", "relay_protocol_error"],
        ["noise", "noise_not_supported"],
      ]
    ) {
      const reset = framesFor(id).find((f) => f.body.case === "reset");
      assert.ok(reset?.body.case === "reset");
      assert.equal(reset.body.value.reason, reason, id);
    }
    // Sent before the streams whose resets arrived, on the same ordered link: nothing came back.
    assert.deepEqual(framesFor("bad-seg"), []);
    assert.deepEqual(framesFor("legacy-seg"), []);
    assert.ok(!inbound.has("bad-seg") && !inbound.has("legacy-seg"), "no stream was created");
    assert.ok(logged(/malformed first data frame for stream legacy-seg/), "malformed logged");
    assert.ok(logged(/undecodable relay frame/), "garbage logged");
    assert.ok(logged(/text message/), "text logged");
    assert.ok(logged(/version 2/), "version logged");
    assert.ok(logged(/empty stream_id/), "empty id logged");
    assert.ok(logged(/200 bytes, over the 128-byte limit/), "long id logged");
    assert.ok(logged(/stream bad-seg \(segment 0\/0/), "bad segment logged");
    assert.ok(logged(/legacy-seg.*never negotiated/), "legacy segmentation logged");
    assert.ok(logged(/bad-ack.*ack 5 for an unsent seq/), "bad ack logged");
    assert.ok(logged(/count.*segment_count 1000000 exceeds 102400/), "count logged");
    assert.ok(logged(/Noise handshake/), "handshake logged");
    assert.ok(logged(/data frame for unknown stream ghost/), "unknown stream logged");
    assert.ok(!streams.has("ghost"));
    // Only the streams that misbehaved ended.
    assert.equal(streams.get("good")?.endReason, undefined);
    assert.equal(streams.get("huge")?.endReason, undefined);
    assert.ok(!streams.has("v2") && !streams.has("") && !streams.has("x".repeat(200)));
  } finally {
    mux.close();
    peer.close();
    await Promise.all([socketClosed(peer), socketClosed(executorSocket)]);
    await rendezvous.close();
    await Promise.allSettled(served);
  }
});
