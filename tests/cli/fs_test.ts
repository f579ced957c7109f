import assert from "node:assert/strict";
import { startServer } from "../_harness.ts";
import { runCli } from "./_cli.ts";

const MIB = 1024 * 1024;

async function tempDir(): Promise<string & AsyncDisposable> {
  const path = await Deno.realPath(await Deno.makeTempDir({ prefix: "cli_fs_test_" }));
  return Object.assign(path, {
    async [Symbol.asyncDispose]() {
      await Deno.remove(path, { recursive: true }).catch(() => {});
    },
  }) as string & AsyncDisposable;
}

async function sha256(path: string): Promise<string> {
  const out = await new Deno.Command("sha256sum", { args: [path] }).output();
  return new TextDecoder().decode(out.stdout).split(" ")[0];
}

/** Runs the CLI under `/usr/bin/time -v` and returns its peak RSS in KiB. */
async function peakRssKiB(args: string[]): Promise<{ code: number; kib: number; ms: number }> {
  const started = performance.now();
  const out = await new Deno.Command("/usr/bin/time", {
    args: ["-v", Deno.execPath(), "run", "-A", MAIN, ...args],
    env: { CODEX_EXEC_SERVER_LOG: "warn" },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  const ms = performance.now() - started;
  const stderr = new TextDecoder().decode(out.stderr);
  const kib = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(stderr)?.[1]);
  assert.ok(kib > 0, stderr);
  return { code: out.code, kib, ms };
}

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

Deno.test({
  name: "fs get of a 100 MiB file: identical bytes, memory that does not grow with size",
  timeout: 120_000,
}, async () => {
  await using server = await startServer();
  await using dir = await tempDir();
  const source = `${dir}/big.bin`;
  {
    const file = await Deno.open(source, { write: true, create: true });
    const block = new Uint8Array(MIB);
    for (let i = 0; i < 100; i++) {
      // Distinct content per MiB so a misplaced block changes the hash.
      crypto.getRandomValues(block.subarray(0, 65536));
      block.fill(i, 65536);
      await file.write(block);
    }
    file.close();
  }
  // 4x the data, sparse (no disk), streamed to /dev/null: if the client buffered, its peak
  // would grow by ~300 MiB (plus base64) over the 100 MiB run.
  const huge = `${dir}/huge.bin`;
  const sparse = await Deno.open(huge, { write: true, create: true });
  await sparse.truncate(400 * MIB);
  sparse.close();

  const baseline = await peakRssKiB(["fs", "--url", server.url, "stat", source]);
  const get = await peakRssKiB(["fs", "--url", server.url, "get", source, `${dir}/copy.bin`]);
  assert.equal(get.code, 0);
  assert.equal(await sha256(`${dir}/copy.bin`), await sha256(source));
  const getHuge = await peakRssKiB(["fs", "--url", server.url, "get", huge, "-"]);
  assert.equal(getHuge.code, 0);
  const mib = (kib: number) => (kib / 1024).toFixed(0);
  console.log(
    `fs get: 100 MiB in ${get.ms.toFixed(0)} ms incl. startup, peak RSS ${mib(get.kib)} MiB; ` +
      `400 MiB in ${getHuge.ms.toFixed(0)} ms, peak RSS ${mib(getHuge.kib)} MiB; ` +
      `baseline (stat) ${mib(baseline.kib)} MiB`,
  );
  // What shows above the baseline is V8 letting per-block garbage (~3.5 MiB of strings and
  // buffers per 1 MiB block) pile up before collecting it; it levels off instead of growing.
  // Under heavy load (load average ~20) collection comes later and the 400 MiB run peaks up
  // to ~125 MiB above the 100 MiB one; a client that buffered would add at least the 300 MiB
  // of extra bytes (plus their base64 text), so half of that is the bound.
  assert.ok(
    getHuge.kib - get.kib < 150 * 1024,
    `peak RSS grew from ${mib(get.kib)} to ${mib(getHuge.kib)} MiB with 4x the data`,
  );
  assert.ok(get.kib - baseline.kib < 200 * 1024, `get used ${mib(get.kib - baseline.kib)} MiB`);
});

Deno.test({
  name: "fs ls, stat, cat, put, mkdir, cp and rm work on the server",
  timeout: 60_000,
}, async () => {
  await using server = await startServer();
  await using dir = await tempDir();
  const fs = (...args: string[]) => runCli(["fs", "--url", server.url, ...args]);
  const local = `${dir}/local.txt`;
  await Deno.writeTextFile(local, "hello remote\n");

  assert.equal((await fs("mkdir", "-p", `${dir}/a/b`)).code, 0);
  const put = await fs("put", local, `${dir}/a/`);
  assert.equal(put.code, 0, put.stderr);
  assert.equal(await Deno.readTextFile(`${dir}/a/local.txt`), "hello remote\n");
  assert.equal((await fs("cat", `${dir}/a/local.txt`)).stdout, "hello remote\n");

  const ls = await fs("ls", `${dir}/a`);
  assert.equal(ls.stdout, "b/\nlocal.txt\n");
  const stat = await fs("stat", `${dir}/a/local.txt`);
  assert.match(stat.stdout, /type: file/);
  assert.match(stat.stdout, /size: 13/);

  assert.equal((await fs("cp", `${dir}/a/local.txt`, `${dir}/a/b/copy.txt`)).code, 0);
  assert.equal(await Deno.readTextFile(`${dir}/a/b/copy.txt`), "hello remote\n");
  const cpDir = await fs("cp", `${dir}/a`, `${dir}/c`);
  assert.equal(cpDir.code, 1);
  assert.match(cpDir.stderr, /recursive/);
  assert.equal((await fs("cp", "-r", `${dir}/a`, `${dir}/c`)).code, 0);
  assert.equal(await Deno.readTextFile(`${dir}/c/b/copy.txt`), "hello remote\n");

  const rmDir = await fs("rm", `${dir}/c`);
  assert.equal(rmDir.code, 1);
  assert.match(rmDir.stderr, /use fs rm -r/);
  assert.equal((await fs("rm", "-r", `${dir}/c`)).code, 0);
  await assert.rejects(Deno.stat(`${dir}/c`));
  assert.equal((await fs("rm", "-f", `${dir}/never-existed`)).code, 0);

  const getOut = await fs("get", `${dir}/a/local.txt`, "-");
  assert.equal(getOut.stdout, "hello remote\n");
});

Deno.test({
  name: "fs reports a missing remote path and exits 1",
  timeout: 60_000,
}, async () => {
  await using server = await startServer();
  for (const command of ["stat", "cat", "get", "ls", "rm"]) {
    const result = await runCli(["fs", "--url", server.url, command, "/no/such/path"]);
    assert.equal(result.code, 1, `${command}: ${result.stderr}`);
    assert.match(result.stderr, /remote path \/no\/such\/path does not exist/, command);
  }
});

/**
 * A websocket relay in front of a real server that hides `fileWriteStreaming` in the
 * `initialize` answer: what a client sees from a server without streamed writes.
 */
function withoutWriteStreaming(target: string) {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    const { socket, response } = Deno.upgradeWebSocket(request);
    const upstream = new WebSocket(target);
    const pending: (string | ArrayBuffer)[] = [];
    upstream.onopen = () => pending.splice(0).forEach((m) => upstream.send(m));
    socket.onmessage = (e) =>
      upstream.readyState === WebSocket.OPEN ? upstream.send(e.data) : pending.push(e.data);
    upstream.onmessage = (e) =>
      socket.send(
        String(e.data).replace('"fileWriteStreaming":true', '"fileWriteStreaming":false'),
      );
    socket.onclose = () => upstream.close();
    upstream.onclose = () => socket.close();
    return response;
  });
  return {
    url: `ws://127.0.0.1:${server.addr.port}`,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
    },
  };
}

Deno.test({
  name: "fs put streams files of any size in blocks, with memory that does not grow",
  timeout: 120_000,
}, async () => {
  await using server = await startServer();
  await using dir = await tempDir();
  const source = `${dir}/big.bin`;
  {
    const file = await Deno.open(source, { write: true, create: true });
    const block = new Uint8Array(MIB);
    for (let i = 0; i < 100; i++) {
      crypto.getRandomValues(block.subarray(0, 65536));
      block.fill(i, 65536);
      await file.write(block);
    }
    // Not a multiple of the block size: the last block is short.
    await file.write(new Uint8Array(12345).fill(7));
    file.close();
  }
  const huge = `${dir}/huge.bin`;
  const sparse = await Deno.open(huge, { write: true, create: true });
  await sparse.truncate(400 * MIB);
  sparse.close();
  const baseline = await peakRssKiB(["fs", "--url", server.url, "stat", source]);
  const put = await peakRssKiB(["fs", "--url", server.url, "put", source, `${dir}/up.bin`]);
  assert.equal(put.code, 0);
  assert.equal(await sha256(`${dir}/up.bin`), await sha256(source));
  const putHuge = await peakRssKiB(["fs", "--url", server.url, "put", huge, `${dir}/up-huge.bin`]);
  assert.equal(putHuge.code, 0);
  assert.equal((await Deno.stat(`${dir}/up-huge.bin`)).size, 400 * MIB);
  const mib = (kib: number) => (kib / 1024).toFixed(0);
  console.log(
    `fs put: 100 MiB in ${put.ms.toFixed(0)} ms incl. startup, peak RSS ${mib(put.kib)} MiB; ` +
      `400 MiB in ${putHuge.ms.toFixed(0)} ms, peak RSS ${mib(putHuge.kib)} MiB; ` +
      `baseline (stat) ${mib(baseline.kib)} MiB`,
  );
  assert.ok(
    putHuge.kib - put.kib < 100 * 1024,
    `peak RSS grew from ${mib(put.kib)} to ${mib(putHuge.kib)} MiB with 4x the data`,
  );
  assert.ok(put.kib - baseline.kib < 200 * 1024, `put used ${mib(put.kib - baseline.kib)} MiB`);
});

Deno.test({
  name: "fs put to a server without fileWriteStreaming: one message, refused over the limit",
  timeout: 30_000,
}, async () => {
  await using server = await startServer();
  await using relay = withoutWriteStreaming(server.url);
  await using dir = await tempDir();
  const big = `${dir}/sparse.bin`;
  const file = await Deno.open(big, { write: true, create: true });
  await file.truncate(60 * MIB);
  file.close();
  const result = await runCli(["fs", "--url", relay.url, "put", big, `${dir}/up.bin`]);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /upload limit/);
  assert.match(result.stderr, /lacks fileWriteStreaming/);
  assert.match(result.stderr, /exec .*cat > /);
  await assert.rejects(Deno.stat(`${dir}/up.bin`));
  await Deno.writeTextFile(`${dir}/small.txt`, "small\n");
  const small = await runCli(["fs", "--url", relay.url, "put", `${dir}/small.txt`, `${dir}/s.txt`]);
  assert.equal(small.code, 0, small.stderr);
  assert.equal(await Deno.readTextFile(`${dir}/s.txt`), "small\n");
});

Deno.test({
  name: "fs works over a stdio command too",
  timeout: 15_000,
}, async () => {
  await using dir = await tempDir();
  await Deno.writeTextFile(`${dir}/f.txt`, "via stdio\n");
  const command = `'${Deno.execPath()}' run -A '${
    new URL("../../main.ts", import.meta.url).pathname
  }' serve --listen stdio`;
  const result = await runCli(["fs", "--stdio-command", command, "cat", `${dir}/f.txt`]);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout, "via stdio\n");
});
