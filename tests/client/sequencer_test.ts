import assert from "node:assert/strict";
import { type ProcessEvent, Sequencer } from "../../lib/client/_sequencer.ts";

const out = (seq: number, text = `c${seq}`): ProcessEvent => ({
  kind: "output",
  seq,
  stream: "stdout",
  data: new TextEncoder().encode(text),
});

function collect(): { events: ProcessEvent[]; sequencer: Sequencer } {
  const events: ProcessEvent[] = [];
  return { events, sequencer: new Sequencer((e) => events.push(e)) };
}

Deno.test({
  name: "events arriving out of order are published in seq order, duplicates dropped",
  timeout: 15_000,
}, () => {
  const { events, sequencer } = collect();
  for (const seq of [3, 1, 1, 4, 2, 3, 5]) sequencer.accept(out(seq));
  sequencer.accept({ kind: "exited", seq: 6, exitCode: 0 });
  sequencer.accept({ kind: "exited", seq: 6, exitCode: 0 });
  assert.deepEqual(events.map((e) => e.seq), [1, 2, 3, 4, 5, 6]);
  assert.equal(sequencer.pendingCount, 0);
});

Deno.test({
  name: "an exit that overtakes output waits for the output",
  timeout: 15_000,
}, () => {
  const { events, sequencer } = collect();
  sequencer.accept({ kind: "closed", seq: 3 });
  sequencer.accept({ kind: "exited", seq: 2, exitCode: 7 });
  assert.equal(events.length, 0);
  sequencer.accept(out(1));
  assert.deepEqual(events.map((e) => e.kind), ["output", "exited", "closed"]);
});

Deno.test({
  name: "replay fills the gap and infers the exit and close seqs from the flags",
  timeout: 15_000,
}, () => {
  const { events, sequencer } = collect();
  sequencer.accept(out(1));
  // Seqs 2, 3 (output), 4 (exit), 5 (closed) happened while disconnected.
  const lost = sequencer.replay({
    chunks: [out(2), out(3)] as Extract<ProcessEvent, { kind: "output" }>[],
    nextSeq: 6,
    exited: true,
    exitCode: 3,
    closed: true,
  });
  assert.equal(lost, null);
  assert.deepEqual(events.map((e) => `${e.kind}${e.seq}`), [
    "output1",
    "output2",
    "output3",
    "exited4",
    "closed5",
  ]);
  assert.equal((events[3] as { exitCode: number }).exitCode, 3);
});

Deno.test({
  name: "replay keeps events already received out of order and ignores duplicates",
  timeout: 15_000,
}, () => {
  const { events, sequencer } = collect();
  sequencer.accept(out(1));
  sequencer.accept(out(4));
  const lost = sequencer.replay({
    chunks: [out(2), out(3), out(4)] as Extract<ProcessEvent, { kind: "output" }>[],
    nextSeq: 5,
    exited: false,
    exitCode: null,
    closed: false,
  });
  assert.equal(lost, null);
  assert.deepEqual(events.map((e) => e.seq), [1, 2, 3, 4]);
});

Deno.test({
  name: "replay reports the first evicted seq when chunks are missing",
  timeout: 15_000,
}, () => {
  const { sequencer } = collect();
  sequencer.accept(out(1));
  const lost = sequencer.replay({
    chunks: [out(5), out(6)] as Extract<ProcessEvent, { kind: "output" }>[],
    nextSeq: 7,
    exited: false,
    exitCode: null,
    closed: false,
  });
  assert.equal(lost, 2);
});

Deno.test({
  name: "replay of a process that exited with output after the exit",
  timeout: 15_000,
}, () => {
  const { events, sequencer } = collect();
  // 1 output, 2 exited (already seen), 3 late output, 4 closed.
  sequencer.accept(out(1));
  sequencer.accept({ kind: "exited", seq: 2, exitCode: 0 });
  const lost = sequencer.replay({
    chunks: [out(3)] as Extract<ProcessEvent, { kind: "output" }>[],
    nextSeq: 5,
    exited: true,
    exitCode: 0,
    closed: true,
  });
  assert.equal(lost, null);
  assert.deepEqual(events.map((e) => `${e.kind}${e.seq}`), [
    "output1",
    "exited2",
    "output3",
    "closed4",
  ]);
});
