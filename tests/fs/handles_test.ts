import assert from "node:assert/strict";
import { FileHandleTable, MAX_OPEN_HANDLES } from "../../lib/fs/handles.ts";
import { mkfifo } from "./_session.ts";

async function scratch(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "handles_" });
  await Deno.writeTextFile(`${dir}/ten`, "0123456789");
  return dir;
}

Deno.test({
  name: "concurrent opens never exceed the per-connection limit",
  timeout: 15_000,
}, async () => {
  const dir = await scratch();
  try {
    await using table = new FileHandleTable();
    const results = await Promise.allSettled(
      Array.from({ length: MAX_OPEN_HANDLES + 5 }, (_, i) => table.open(`h${i}`, `${dir}/ten`)),
    );
    assert.equal(results.filter((r) => r.status === "fulfilled").length, MAX_OPEN_HANDLES);
    const rejected = results.filter((r) => r.status === "rejected") as PromiseRejectedResult[];
    assert(
      rejected.every((r) =>
        r.reason.message === "at most 128 file handles may be open per connection"
      ),
    );
    assert.equal(table.size, MAX_OPEN_HANDLES);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "reads on one handle are positional even when issued together",
  timeout: 15_000,
}, async () => {
  const dir = await scratch();
  try {
    await using table = new FileHandleTable();
    await table.open("h", `${dir}/ten`);
    const blocks = await Promise.all([
      table.readBlock("h", { offset: 6, len: 3 }),
      table.readBlock("h", { offset: 1, len: 2 }),
      table.readBlock("h", { offset: 8, len: 4 }),
      table.readBlock("h", { offset: 0, len: 2 }),
    ]);
    assert.deepEqual(blocks, [
      { chunk: btoa("678"), eof: false },
      { chunk: btoa("12"), eof: false },
      { chunk: btoa("89"), eof: true },
      { chunk: btoa("01"), eof: false },
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "a FIFO is refused at once and its id stays free",
  timeout: 15_000,
}, async () => {
  const dir = await scratch();
  try {
    await mkfifo(`${dir}/fifo`);
    await using table = new FileHandleTable();
    const started = performance.now();
    await assert.rejects(() => table.open("f", `${dir}/fifo`), {
      code: -32600,
      message: `path \`${dir}/fifo\` is not a file`,
    });
    assert(performance.now() - started < 1000);
    assert.equal(table.size, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "disposing the table closes every descriptor",
  timeout: 15_000,
}, async () => {
  const dir = await scratch();
  try {
    const table = new FileHandleTable();
    for (let i = 0; i < 5; i++) await table.open(`h${i}`, `${dir}/ten`);
    await table[Symbol.asyncDispose]();
    assert.equal(table.size, 0);
    await assert.rejects(() => table.readBlock("h0", { offset: 0, len: 1 }), { code: -32004 });
    // The test sanitizer also fails this test if any descriptor were left open.
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
