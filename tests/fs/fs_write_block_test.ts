/**
 * Streamed writes (`fs/open {mode: "replace"}` + `fs/writeBlock`, capability
 * `fileWriteStreaming`) against the real server, with upstream 0.169.0's results and errors.
 */
import assert from "node:assert/strict";
import { assertRpcError, b64, mkfifo, openSession, unb64, uri } from "./_session.ts";

const MiB = 1024 * 1024;
const NOT_FOUND = -32004;
const INVALID_REQUEST = -32600;
const INVALID_PARAMS = -32602;
const INTERNAL = -32603;

Deno.test({
  name: "fs/writeBlock: replace truncates at open, positional writes, holes",
  timeout: 15_000,
}, async () => {
  await using s = await openSession();
  const { client, dir } = s;
  const info = await client.call("environment/info");
  assert.equal((info.capabilities as Record<string, boolean>).fileWriteStreaming, true);
  const path = `${dir}/a.txt`;
  await Deno.writeTextFile(path, "old contents that must go");
  assert.deepEqual(
    await client.call("fs/open", { handleId: "w1", path: uri(path), mode: "replace" }),
    { handleId: "w1" },
  );
  assert.equal(await Deno.readTextFile(path), "", "truncated at open, not at close");
  assert.deepEqual(
    await client.call("fs/writeBlock", { handleId: "w1", offset: 0, chunk: b64("hello\n") }),
    {},
  );
  await client.call("fs/writeBlock", { handleId: "w1", offset: 6, chunk: b64("world\n") });
  assert.equal(await Deno.readTextFile(path), "hello\nworld\n");
  // Past the end leaves a hole of zeros; an earlier offset overwrites in place.
  await client.call("fs/writeBlock", { handleId: "w1", offset: 14, chunk: b64("!") });
  await client.call("fs/writeBlock", { handleId: "w1", offset: 0, chunk: b64("H") });
  assert.equal(await Deno.readTextFile(path), "Hello\nworld\n\0\0!");
  // Exactly 1 MiB is the largest block.
  const big = new Uint8Array(MiB).fill(0x61);
  await client.call("fs/writeBlock", { handleId: "w1", offset: 15, chunk: b64(big) });
  assert.equal((await Deno.stat(path)).size, 15 + MiB);
  await client.call("fs/close", { handleId: "w1" });
  // A missing file is created.
  await client.call("fs/open", { handleId: "w2", path: uri(`${dir}/new.bin`), mode: "replace" });
  await client.call("fs/writeBlock", { handleId: "w2", offset: 0, chunk: b64("x") });
  await client.call("fs/close", { handleId: "w2" });
  assert.equal(await Deno.readTextFile(`${dir}/new.bin`), "x");
  // "read" is the default and stays readable.
  await client.call("fs/open", { handleId: "r1", path: uri(`${dir}/new.bin`), mode: "read" });
  const block = await client.call("fs/readBlock", { handleId: "r1", offset: 0, len: 10 });
  assert.deepEqual([unb64(block.chunk as string), block.eof], ["x", true]);
});

Deno.test({
  name: "fs/writeBlock and fs/open mode errors are upstream's",
  timeout: 15_000,
}, async () => {
  await using s = await openSession();
  const { client, dir } = s;
  const path = `${dir}/e.txt`;
  await Deno.writeTextFile(path, "data");
  await mkfifo(`${dir}/fifo`);
  const open = (handleId: string, target: string, mode?: unknown) =>
    client.call("fs/open", {
      handleId,
      path: uri(target),
      ...(mode === undefined ? {} : { mode }),
    });
  const write = (params: Record<string, unknown>) => client.call("fs/writeBlock", params);

  await open("w", path, "replace");
  await assertRpcError(
    write({ handleId: "w", offset: 0, chunk: "" }),
    INVALID_REQUEST,
    "file write block length must be between 1 and 1048576",
  );
  await assertRpcError(
    write({ handleId: "w", offset: 0, chunk: b64(new Uint8Array(MiB + 1)) }),
    INVALID_REQUEST,
    "file write block length must be between 1 and 1048576",
  );
  await assertRpcError(
    write({ handleId: "w", offset: 0, chunk: "!!!!" }),
    INVALID_PARAMS,
    "Invalid symbol 33, offset 0.",
  );
  await assertRpcError(
    write({ handleId: "w", offset: 0 }),
    INVALID_PARAMS,
    "missing field `chunk`",
  );
  await assertRpcError(
    write({ handleId: "w", chunk: "eA==" }),
    INVALID_PARAMS,
    "missing field `offset`",
  );
  await assertRpcError(
    write({ handleId: "nope", offset: 0, chunk: "eA==" }),
    NOT_FOUND,
    "unknown file handle `nope`",
  );
  // A write the kernel refuses is an error, and the handle stays usable.
  await assertRpcError(
    write({ handleId: "w", offset: 9007199254740000, chunk: "eA==" }),
    INTERNAL,
    /^File too large \(os error 27\)/,
  );
  await write({ handleId: "w", offset: 0, chunk: "eA==" });
  // Reading a replace handle fails like the kernel's EBADF, and (a read error) closes it.
  await assertRpcError(
    client.call("fs/readBlock", { handleId: "w", offset: 0, len: 10 }),
    INTERNAL,
    "Bad file descriptor (os error 9)",
  );
  await assertRpcError(
    write({ handleId: "w", offset: 0, chunk: "eA==" }),
    NOT_FOUND,
    "unknown file handle `w`",
  );
  // Writing a read handle fails, and the handle stays readable.
  await open("r", path);
  await assertRpcError(
    write({ handleId: "r", offset: 0, chunk: "eA==" }),
    INTERNAL,
    "Bad file descriptor (os error 9)",
  );
  const block = await client.call("fs/readBlock", { handleId: "r", offset: 0, len: 10 });
  assert.equal(unb64(block.chunk as string), "x");
  await assertRpcError(
    open("r", path, "replace"),
    INVALID_REQUEST,
    "file handle `r` already exists",
  );

  await assertRpcError(
    open("m1", path, "x"),
    INVALID_PARAMS,
    "unknown variant `x`, expected `read` or `replace` at `mode`",
  );
  await assertRpcError(
    open("m2", path, "Replace"),
    INVALID_PARAMS,
    "unknown variant `Replace`, expected `read` or `replace` at `mode`",
  );
  await assertRpcError(open("m3", path, null), INVALID_PARAMS, /^invalid type: null/);
  await assertRpcError(
    open("m4", `${dir}/nodir/a.txt`, "replace"),
    NOT_FOUND,
    /^No such file or directory \(os error 2\)/,
  );
  await assertRpcError(open("m5", dir, "replace"), INTERNAL, /^Is a directory \(os error 21\)/);
  await assertRpcError(
    open("m6", `${dir}/fifo`, "replace"),
    INTERNAL,
    /^No such device or address \(os error 6\)/,
  );
  await assertRpcError(
    open("m7", "/dev/null", "replace"),
    INVALID_REQUEST,
    "path `/dev/null` is not a file",
  );
  // Nothing failed above left a handle behind.
  await open("after", path);
});

Deno.test({
  name: "fs/writeBlock: a 16 MiB file streamed in 1 MiB blocks arrives intact",
  timeout: 30_000,
}, async () => {
  await using s = await openSession();
  const { client, dir } = s;
  const path = `${dir}/big.bin`;
  const block = new Uint8Array(MiB);
  await client.call("fs/open", { handleId: "big", path: uri(path), mode: "replace" });
  const sent = await Promise.all(Array.from({ length: 16 }, (_, i) => {
    block.fill(i);
    return client.call("fs/writeBlock", { handleId: "big", offset: i * MiB, chunk: b64(block) });
  }));
  assert.equal(sent.length, 16);
  await client.call("fs/close", { handleId: "big" });
  const bytes = await Deno.readFile(path);
  assert.equal(bytes.length, 16 * MiB);
  for (let i = 0; i < 16; i++) assert.equal(bytes[i * MiB + 12345], i);
});
