/**
 * Block-read handles (`fs/open`, `fs/readBlock`, `fs/close`) against the real server
 * (scenarios 39–43 and the handle error texts).
 */
import assert from "node:assert/strict";
import type { TestClient } from "../_harness.ts";
import { assertRpcError, mkfifo, openSession, unb64, unb64Bytes, uri } from "./_session.ts";

const MiB = 1024 * 1024;
const NOT_FOUND = -32004;
const INVALID_REQUEST = -32600;

async function readAll(client: TestClient, handleId: string): Promise<Uint8Array[]> {
  const chunks: Uint8Array[] = [];
  for (let offset = 0;;) {
    const block = await client.call("fs/readBlock", { handleId, offset, len: MiB });
    const bytes = unb64Bytes(block.chunk as string);
    if (bytes.length > 0) chunks.push(bytes);
    offset += bytes.length;
    if (block.eof) return chunks;
  }
}

/** Descriptors of `pid` that point at `path`. */
async function openDescriptors(pid: number, path: string): Promise<number> {
  let count = 0;
  for await (const entry of Deno.readDir(`/proc/${pid}/fd`)) {
    try {
      if (await Deno.readLink(`/proc/${pid}/fd/${entry.name}`) === path) count++;
    } catch {
      // closed meanwhile
    }
  }
  return count;
}

Deno.test({
  name: "block-read handles over a websocket",
  timeout: 30_000,
}, async (t) => {
  await using s = await openSession();
  const { client, dir } = s;
  await Deno.writeTextFile(`${dir}/ten.txt`, "0123456789");

  await t.step("scenario 39: positional reads at arbitrary offsets", async () => {
    assert.deepEqual(
      await client.call("fs/open", { handleId: "ten", path: uri(`${dir}/ten.txt`) }),
      { handleId: "ten" },
    );
    const read = async (offset: number, len: number) => {
      const r = await client.call("fs/readBlock", { handleId: "ten", offset, len });
      return [unb64(r.chunk as string), r.eof];
    };
    assert.deepEqual(await read(6, 3), ["678", false]);
    assert.deepEqual(await read(1, 2), ["12", false]);
    assert.deepEqual(await read(8, 4), ["89", true]);
    assert.deepEqual(await read(0, 2), ["01", false]);
    assert.deepEqual(await read(100, 3), ["", true]);
    assert.deepEqual(await client.call("fs/close", { handleId: "ten" }), {});
    await assertRpcError(
      client.call("fs/readBlock", { handleId: "ten", offset: 0, len: 1 }),
      NOT_FOUND,
      "unknown file handle `ten`",
    );
  });

  await t.step("scenario 40: 128 handles per connection, the 129th refused", async () => {
    for (let i = 0; i < 128; i++) {
      await client.call("fs/open", { handleId: `h${i}`, path: uri(`${dir}/ten.txt`) });
    }
    await assertRpcError(
      client.call("fs/open", { handleId: "h128", path: uri(`${dir}/ten.txt`) }),
      INVALID_REQUEST,
      "at most 128 file handles may be open per connection",
    );
    // The limit is per connection: another connection still has room.
    const other = await s.connect();
    await other.call("fs/open", { handleId: "h0", path: uri(`${dir}/ten.txt`) });
    await other.close();

    await client.call("fs/close", { handleId: "h5" });
    await client.call("fs/open", { handleId: "h128", path: uri(`${dir}/ten.txt`) });
    for (let i = 0; i <= 128; i++) await client.call("fs/close", { handleId: `h${i}` });
  });

  await t.step("scenario 41: a 2 MiB file reads as exactly two 1 MiB blocks", async () => {
    const data = new Uint8Array(2 * MiB);
    for (let i = 0; i < data.length; i++) data[i] = i % 251;
    await Deno.writeFile(`${dir}/two.bin`, data);
    await client.call("fs/open", { handleId: "two", path: uri(`${dir}/two.bin`) });
    const chunks = await readAll(client, "two");
    assert.deepEqual(chunks.map((c) => c.length), [MiB, MiB]);
    const joined = new Uint8Array(2 * MiB);
    joined.set(chunks[0]);
    joined.set(chunks[1], MiB);
    assert(joined.every((byte, i) => byte === data[i]), "block contents differ from the file");
    await client.call("fs/close", { handleId: "two" });
  });

  await t.step("a file one byte over a block boundary reads as 1 MiB + 1 byte", async () => {
    await Deno.writeFile(`${dir}/over.bin`, new Uint8Array(MiB + 1).fill(7));
    await client.call("fs/open", { handleId: "over", path: uri(`${dir}/over.bin`) });
    const chunks = await readAll(client, "over");
    assert.deepEqual(chunks.map((c) => c.length), [MiB, 1]);
    await client.call("fs/close", { handleId: "over" });
  });

  await t.step("scenario 42: FIFOs and directories are refused without blocking", async () => {
    await mkfifo(`${dir}/fifo`);
    const started = performance.now();
    await assertRpcError(
      client.call("fs/open", { handleId: "fifo", path: uri(`${dir}/fifo`) }),
      INVALID_REQUEST,
      `path \`${dir}/fifo\` is not a file`,
    );
    assert(performance.now() - started < 1000, "fs/open blocked on a FIFO");
    await assertRpcError(
      client.call("fs/open", { handleId: "dir", path: uri(dir) }),
      INVALID_REQUEST,
      `path \`${dir}\` is not a file`,
    );
    await assertRpcError(
      client.call("fs/open", { handleId: "none", path: uri(`${dir}/none`) }),
      NOT_FOUND,
      /^No such file or directory \(os error 2\)/,
    );
    // Failed opens do not hold a slot or an id.
    await client.call("fs/open", { handleId: "fifo", path: uri(`${dir}/ten.txt`) });
    await client.call("fs/close", { handleId: "fifo" });
  });

  await t.step("scenario 43: an open handle survives replacement of its path", async () => {
    const path = `${dir}/replaced.txt`;
    await Deno.writeFile(path, new Uint8Array(MiB + 1).fill(0x61));
    await client.call("fs/open", { handleId: "rep", path: uri(path) });
    const first = await client.call("fs/readBlock", { handleId: "rep", offset: 0, len: MiB });
    assert.equal(first.eof, false);
    await Deno.writeFile(`${path}.new`, new Uint8Array(MiB + 1).fill(0x62));
    await Deno.rename(`${path}.new`, path);
    const next = await client.call("fs/readBlock", { handleId: "rep", offset: MiB, len: MiB });
    assert.equal(unb64(next.chunk as string), "a");
    assert.equal(next.eof, true);
    await client.call("fs/close", { handleId: "rep" });
  });

  await t.step("handle ids and block lengths are validated", async () => {
    const path = uri(`${dir}/ten.txt`);
    await assertRpcError(
      client.call("fs/open", { handleId: "", path }),
      INVALID_REQUEST,
      "file handle id cannot be empty",
    );
    await assertRpcError(
      client.call("fs/open", { handleId: "x".repeat(33), path }),
      INVALID_REQUEST,
      "file handle ID must not exceed 32 bytes",
    );
    await client.call("fs/open", { handleId: "x".repeat(32), path });
    await client.call("fs/close", { handleId: "x".repeat(32) });
    await client.call("fs/open", { handleId: "dup", path });
    await assertRpcError(
      client.call("fs/open", { handleId: "dup", path }),
      INVALID_REQUEST,
      "file handle `dup` already exists",
    );
    for (const len of [0, MiB + 1]) {
      await assertRpcError(
        client.call("fs/readBlock", { handleId: "dup", offset: 0, len }),
        INVALID_REQUEST,
        "file read block length must be between 1 and 1048576",
      );
    }
    await assertRpcError(
      client.call("fs/readBlock", { handleId: "nobody", offset: 0, len: 1 }),
      NOT_FOUND,
      "unknown file handle `nobody`",
    );
    assert.deepEqual(await client.call("fs/close", { handleId: "nobody" }), {});
    await client.call("fs/close", { handleId: "dup" });
  });

  await t.step("handles are per connection and closed with it", async () => {
    const path = `${dir}/held.txt`;
    await Deno.writeTextFile(path, "held");
    const other = await s.connect();
    await other.call("fs/open", { handleId: "held", path: uri(path) });
    await assertRpcError(
      client.call("fs/readBlock", { handleId: "held", offset: 0, len: 4 }),
      NOT_FOUND,
      "unknown file handle `held`",
    );
    const pid = s.server.child.pid;
    assert.equal(await openDescriptors(pid, path), 1);
    await other.close();
    const deadline = Date.now() + 5000;
    while (await openDescriptors(pid, path) > 0) {
      assert(Date.now() < deadline, "the server kept the file open after the connection ended");
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  });
});
