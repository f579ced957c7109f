import assert from "node:assert/strict";
import { AsyncQueue } from "../../lib/util/async_queue.ts";

Deno.test({
  name: "async queue: concurrent next() calls get distinct values in order, then done on close",
  timeout: 15_000,
}, async () => {
  const queue = new AsyncQueue<number>();
  const iterator = queue[Symbol.asyncIterator]();
  const first = iterator.next();
  const second = iterator.next();
  const third = iterator.next();
  queue.push(1);
  queue.push(2);
  queue.close();
  assert.deepEqual(await Promise.all([first, second, third]), [
    { done: false, value: 1 },
    { done: false, value: 2 },
    { done: true, value: undefined },
  ]);
});
