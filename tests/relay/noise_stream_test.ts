/**
 * The Noise relay stream's send path: small messages queued together share records (one
 * relay frame per 60 KiB, as upstream's writer), nothing is lost, duplicated or reordered, and
 * `close()` writes what `send()` accepted. Two real Noise sessions (a full hybrid IK
 * handshake) over an in-memory link that decodes every frame it carries.
 */
import assert from "node:assert/strict";
import {
  generateHybridKeyPair,
  HybridIkInitiator,
  HybridIkResponder,
  NoiseChannel,
  noisePrologue,
} from "../../lib/noise/mod.ts";
import { decodeFrame, type RelayLink } from "../../lib/relay/mod.ts";
import { INBOUND_HIGH_WATER, NoiseStream } from "../../lib/relay/_noise_stream.ts";
import { textOf, within } from "./_helpers.ts";

const encoder = new TextEncoder();

async function sessionPair(): Promise<[NoiseChannel, NoiseChannel]> {
  const [harness, executor] = await Promise.all([generateHybridKeyPair(), generateHybridKeyPair()]);
  const prologue = noisePrologue({ environmentId: "e", registrationId: "r", streamId: "s" });
  const initiator = new HybridIkInitiator({
    prologue,
    localStatic: harness,
    remoteStatic: executor.public,
  });
  const message1 = await initiator.writeMessage1(encoder.encode("authz"));
  const responder = await HybridIkResponder.readMessage1(message1, {
    prologue,
    localStatic: executor,
  });
  const { message, ciphers } = await responder.writeMessage2();
  return [new NoiseChannel(await initiator.readMessage2(message)), new NoiseChannel(ciphers)];
}

/**
 * A sender stream whose link hands each `data` frame to a receiving stream. While the receiver
 * has stopped reading (`setReading(false)`), frames wait in the link, as in TCP buffers.
 */
async function streamPair(
  options: { pauseLinkWhenBehind?: boolean; linkBuffered?: { bytes: number } } = {},
) {
  const [sendChannel, receiveChannel] = await sessionPair();
  const errors: Error[] = [];
  const dataFrames: number[] = [];
  const readingChanges: boolean[] = [];
  const waiting: Uint8Array[] = [];
  let reading = true;
  let ended = "";
  const deliver = (bytes: Uint8Array) => {
    const frame = decodeFrame(bytes);
    if (frame.body.case !== "data") return;
    receiver.deliver(frame.body.value.seq, frame.body.value.payload, (e) => errors.push(e));
  };
  const receiver: NoiseStream = new NoiseStream({
    id: "s",
    label: "receiver",
    channel: receiveChannel,
    link: {
      label: "unused",
      bufferedAmount: 0,
      send() {},
      attach() {},
      close() {},
      setReading(next) {
        readingChanges.push(next);
        reading = next;
        while (reading && waiting.length > 0) deliver(waiting.shift()!);
      },
    },
    pauseLinkWhenBehind: options.pauseLinkWhenBehind,
    onEnd: () => {},
  });
  const link: RelayLink = {
    label: "memory",
    get bufferedAmount() {
      return options.linkBuffered?.bytes ?? 0;
    },
    send(bytes) {
      const frame = decodeFrame(bytes as Uint8Array);
      if (frame.body.case !== "data") return;
      dataFrames.push(frame.body.value.payload.length);
      if (reading) deliver(bytes as Uint8Array);
      else waiting.push(bytes as Uint8Array);
    },
    attach() {},
    close() {},
  };
  const sender = new NoiseStream({
    id: "s",
    label: "sender",
    channel: sendChannel,
    link,
    onEnd: (_local, reason) => ended = reason,
  });
  return {
    sender,
    receiver,
    errors,
    dataFrames,
    readingChanges,
    waiting: () => waiting.length,
    ended: () => ended,
  };
}

async function receiveN(stream: NoiseStream, n: number): Promise<string[]> {
  const got: string[] = [];
  for await (const item of stream.receive()) {
    got.push(textOf(item));
    if (got.length === n) break;
  }
  return got;
}

function outputNotifications(n: number): string[] {
  return Array.from(
    { length: n },
    (_, i) =>
      JSON.stringify({ method: "process/output", params: { seq: i, chunk: "x".repeat(8192) } }),
  );
}

Deno.test({
  name:
    "noise stream: 8 KiB messages queued together share 60 KiB records, delivered exactly once in order",
  timeout: 15_000,
}, async () => {
  const { sender, receiver, errors, dataFrames } = await streamPair();
  const messages = outputNotifications(100);
  const got = within(10_000, "100 messages", receiveN(receiver, 100));
  // Queued in one task (820 KB, under the 1 MiB send buffer): the writer's first pass takes all.
  const sends = messages.map((message) => sender.send(message));
  await Promise.all(sends);
  assert.deepEqual(await got, messages);
  assert.deepEqual(errors, []);
  const bytes = messages.reduce((sum, m) => sum + 4 + m.length, 0);
  assert.equal(dataFrames.length, Math.ceil(bytes / 61440), dataFrames.join(","));
  assert.ok(dataFrames.every((length) => length <= 61440 + 16), dataFrames.join(","));
  sender.close();
  receiver.close();
});

Deno.test({
  name:
    "noise stream: sends awaited one by one (as the output pump does) still share records, in order",
  timeout: 15_000,
}, async () => {
  const { sender, receiver, errors, dataFrames } = await streamPair();
  const messages = outputNotifications(100);
  const got = within(10_000, "100 messages", receiveN(receiver, 100));
  for (const message of messages) await sender.send(message);
  assert.deepEqual(await got, messages);
  assert.deepEqual(errors, []);
  // send() resolves once queued, so messages pile up while a batch is sealed; one record per
  // message (100) was the old behaviour. How many batches there are depends on timing.
  assert.ok(dataFrames.length <= 50, `${dataFrames.length} records for 100 messages`);
  sender.close();
  receiver.close();
});

Deno.test({
  name: "noise stream: close() writes every message send() accepted before the stream ends",
  timeout: 15_000,
}, async () => {
  const { sender, receiver, errors, ended } = await streamPair();
  const got = within(10_000, "the last messages", receiveN(receiver, 50));
  for (let i = 0; i < 50; i++) {
    void sender.send(JSON.stringify({ id: i, result: "y".repeat(3000) }));
  }
  sender.close();
  await assert.rejects(sender.send("{}"), /closed/);
  const ids = (await got).map((text) => JSON.parse(text).id);
  assert.deepEqual(ids, Array.from({ length: 50 }, (_, i) => i));
  await within(5000, "sender end", sender.closed);
  assert.equal(ended(), "closed locally");
  assert.deepEqual(errors, []);
  receiver.close();
});

Deno.test({
  name: "noise stream: send() waits while more than the send buffer is queued, then drains",
  timeout: 15_000,
}, async () => {
  // The link takes nothing until the sends are made: sealing alone (fast) never holds them up.
  const linkBuffered = { bytes: 2 * 1024 * 1024 };
  const { sender, receiver } = await streamPair({ linkBuffered });
  const got = within(10_000, "every message", receiveN(receiver, 40));
  let resolvedAtOnce = 0;
  const sends: Promise<void>[] = [];
  for (let i = 0; i < 40; i++) {
    let done = false;
    const send = sender.send(JSON.stringify({ id: i, blob: "z".repeat(100_000) })).then(() => {
      done = true;
    });
    await Promise.resolve();
    if (done) resolvedAtOnce++;
    sends.push(send);
  }
  // 4 MB queued against a 1 MiB buffer and a full link: most sends had to wait.
  assert.ok(resolvedAtOnce < 40, `${resolvedAtOnce} of 40 resolved at once`);
  linkBuffered.bytes = 0;
  await within(10_000, "every send", Promise.all(sends));
  assert.equal((await got).length, 40);
  sender.close();
  receiver.close();
});

Deno.test({
  name:
    "noise stream: a harness far behind stops reading its link and catches up; nothing lost, never failed",
  timeout: 30_000,
}, async () => {
  const { sender, receiver, errors, readingChanges, waiting } = await streamPair({
    pauseLinkWhenBehind: true,
  });
  // 3000 output notifications (24 MiB) while nobody consumes: past the 1024-message bound.
  const messages = outputNotifications(3000);
  const sent = Promise.all(messages.map((message) => sender.send(message)));
  await within(
    10_000,
    "the receiver stops reading",
    (async () => {
      while (readingChanges.length === 0) await new Promise((r) => setTimeout(r, 5));
    })(),
  );
  await within(10_000, "every message sent", sent);
  assert.deepEqual(readingChanges, [false]);
  assert.ok(waiting() > 0, "frames wait in the link while the receiver is behind");
  assert.deepEqual(errors, []);
  const got = await within(20_000, "3000 messages", receiveN(receiver, 3000));
  assert.equal(got.length, 3000);
  assert.ok(got.every((text, i) => text === messages[i]), "in order, each once");
  assert.deepEqual(errors, []);
  assert.equal(readingChanges.at(-1), true);
  assert.equal(waiting(), 0);
  // Each pause came at the high-water mark, each restart once the consumer was down to a quarter.
  assert.ok(readingChanges.every((reading, i) => reading === (i % 2 === 1)));
  assert.ok(INBOUND_HIGH_WATER < 1024);
  sender.close();
  receiver.close();
});

Deno.test({
  name:
    "noise stream: without link pausing (the executor's shared link) a flood past 1024 messages fails",
  timeout: 30_000,
}, async () => {
  const { sender, receiver, errors, readingChanges } = await streamPair();
  const messages = outputNotifications(1500);
  await within(10_000, "every message sent", Promise.all(messages.map((m) => sender.send(m))));
  await within(
    10_000,
    "the overflow error",
    (async () => {
      while (errors.length === 0) await new Promise((r) => setTimeout(r, 5));
    })(),
  );
  assert.match(errors[0].message, /more than 1024 messages queued/);
  assert.deepEqual(readingChanges, []);
  sender.close();
  receiver.close();
});
