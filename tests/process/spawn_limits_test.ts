/**
 * The one-exec spawn path at its edges: a server out of descriptors refuses `process/start`
 * with the OS error and recovers once children are gone; an executable script without `#!`
 * still runs under /bin/sh (as `execvp` ran it); a child does not inherit the server's
 * ignored SIGPIPE; a NUL byte in argv, arg0 or env is refused as upstream refuses it, never cut.
 */
import assert from "node:assert/strict";
import {
  fileUri,
  readToClose,
  type RpcCallError,
  startServer,
  TestClient,
  until,
} from "../_harness.ts";
import { startLimited } from "../transport/_limited_child.ts";

const ENV = { PATH: "/usr/local/bin:/usr/bin:/bin" };

Deno.test({
  name: "process/start out of descriptors is -32603 EMFILE, and starting works again after",
  ignore: Deno.build.os !== "linux",
  timeout: 60_000,
}, async () => {
  await using server = await startLimited(96, ["serve", "--listen", "ws://127.0.0.1:0"]);
  await using client = await TestClient.connect(server.firstLine);
  await client.initialize();
  const started: string[] = [];
  let failure: RpcCallError | undefined;
  for (let i = 0; i < 96 && !failure; i++) {
    const processId = `hold-${i}`;
    try {
      await client.call("process/start", {
        processId,
        argv: ["sleep", "300"],
        cwd: fileUri("/tmp"),
        env: ENV,
        tty: false,
      });
      started.push(processId);
    } catch (err) {
      failure = err as RpcCallError;
    }
  }
  assert.ok(failure, "96 descriptors must run out before 96 children");
  assert.equal(failure.code, -32603);
  assert.equal(failure.message, "No file descriptors available (os error 24)");
  assert.ok(started.length > 5, `only ${started.length} children started`);
  for (const processId of started) await client.call("process/terminate", { processId });
  for (const processId of started) await readToClose(client, processId);
  // Every descriptor of the killed children is closed again: a fresh start works.
  let result: Awaited<ReturnType<typeof readToClose>> | undefined;
  await until(5000, "a start succeeding again", async () => {
    try {
      await client.call("process/start", {
        processId: "after",
        argv: ["sh", "-c", "echo fine"],
        cwd: fileUri("/tmp"),
        env: ENV,
        tty: false,
      });
    } catch {
      return false;
    }
    result = await readToClose(client, "after");
    return true;
  });
  assert.equal(result?.stdout, "fine\n");
  assert.equal(result?.exitCode, 0);
  assert.ok(server.alive());
});

Deno.test({
  name: "an executable script without #! runs under /bin/sh; SIGPIPE is not inherited ignored",
  ignore: Deno.build.os !== "linux",
  timeout: 30_000,
}, async () => {
  const dir = Deno.makeTempDirSync();
  try {
    Deno.writeTextFileSync(`${dir}/plain`, 'echo "plain script $1"\n', { mode: 0o755 });
    await using server = await startServer();
    await using client = await TestClient.connect(server.url);
    await client.initialize();
    for (const tty of [false, true]) {
      const processId = `plain-${tty}`;
      await client.call("process/start", {
        processId,
        argv: [`${dir}/plain`, "ran"],
        cwd: fileUri(dir),
        env: ENV,
        tty,
      });
      const { output, exitCode } = await readToClose(client, processId);
      assert.match(output, /plain script ran/);
      assert.equal(exitCode, 0);
    }
    await client.call("process/start", {
      processId: "sigign",
      argv: ["sh", "-c", "grep SigIgn /proc/self/status"],
      cwd: fileUri(dir),
      env: ENV,
      tty: false,
    });
    const { stdout } = await readToClose(client, "sigign");
    const mask = BigInt(`0x${stdout.trim().split(/\s+/)[1]}`);
    // Bit 12 is SIGPIPE (13): Deno ignores it, and an ignored signal would survive exec.
    assert.equal(mask & (1n << 12n), 0n, `SIGPIPE ignored in the child: ${stdout}`);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test({
  name: "process/start refuses a NUL byte in argv, arg0 or env (upstream's -32603), runs nothing",
  timeout: 30_000,
}, async () => {
  await using server = await startServer();
  await using client = await TestClient.connect(server.url);
  await client.initialize();
  const dir = await Deno.makeTempDir();
  try {
    const marker = `${dir}/ran`;
    const cases = [
      { argv: ["sh", "-c", `touch ${marker}\0; echo cut`], env: ENV, text: "nul byte found" },
      { argv: ["sh", "-c", `touch ${marker}`], arg0: "s\0h", env: ENV, text: "nul byte found" },
      {
        argv: ["sh", "-c", `touch ${marker}`],
        env: { ...ENV, X: "a\0b" },
        text: "data provided contains a nul byte",
      },
      {
        argv: ["sh", "-c", `touch ${marker}`],
        env: { ...ENV, "LD_PRELOAD=/x.so\0": "" },
        text: "data provided contains a nul byte",
      },
    ];
    for (const [i, { text, ...params }] of cases.entries()) {
      for (const tty of [false, true]) {
        const error = await client.call("process/start", {
          processId: `nul-${i}-${tty}`,
          cwd: fileUri(dir),
          tty,
          ...params,
        }).then(() => undefined, (err: RpcCallError) => err);
        assert.ok(error, `case ${i} (tty ${tty}) started a process`);
        assert.equal(error.code, -32603);
        assert.match(error.message, new RegExp(text));
      }
    }
    await assert.rejects(Deno.stat(marker), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
