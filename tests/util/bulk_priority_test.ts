import assert from "node:assert/strict";
import { setImmediate } from "node:timers";
import { bulkTurn, markInteractive } from "../../lib/util/bulk_priority.ts";

/** Keeps the thread busy (a pump's piece of work), so a slice is used up without a sleep. */
function busy(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) { /* working */ }
}

async function ownSlice(owner?: object): Promise<void> {
  const pause = bulkTurn(owner);
  if (pause) await pause;
}

// The loopback pair behind the reactor turns lives as long as the process, by design.
const sanitizers = { sanitizeResources: false, sanitizeOps: false };

Deno.test({
  name: "bulk priority: pumps that used up their slice are woken one per turn, in arrival order",
  timeout: 15_000,
  ...sanitizers,
}, async () => {
  // "|" marks a macrotask: a pump woken in the same turn as the one before it would follow it
  // without one in between.
  const order: string[] = [];
  const pump = async (name: string) => {
    for (let round = 0; round < 3; round++) {
      await ownSlice();
      order.push(name);
      setImmediate(() => order.push("|"));
      busy(3); // more than any slice: the next ask must wait in line
    }
  };
  await Promise.all([pump("a"), pump("b"), pump("c")]);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(order.join(""), "a|b|c|a|b|c|a|b|c|");
});

Deno.test({
  name: "bulk priority: another session's request shortens a pump's slice, its own does not",
  timeout: 15_000,
  ...sanitizers,
}, async () => {
  const reader = {};
  const other = {};
  markInteractive(reader);
  await ownSlice(reader);
  busy(0.5);
  assert.equal(bulkTurn(reader), undefined, "its own reader's requests leave it the 2 ms slice");
  markInteractive(other);
  const pause = bulkTurn(reader);
  assert.ok(pause, "after 0.5 ms, another session's request makes the pump wait for a turn");
  await pause;
});
