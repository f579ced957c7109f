import assert from "node:assert/strict";
import { ExecServerClient, registryConnector } from "../../lib/client/mod.ts";
import { spawnMain } from "../_harness.ts";
import { runCli } from "./_cli.ts";

async function firstLine(child: Deno.ChildProcess): Promise<string> {
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("no URL line");
    text += value;
  }
  reader.releaseLock();
  return text.split("\n")[0];
}

async function stop(child: Deno.ChildProcess): Promise<void> {
  try {
    child.kill("SIGTERM");
  } catch {
    // gone
  }
  await child.status;
  await Promise.all([child.stdout.cancel().catch(() => {}), child.stderr.cancel().catch(() => {})]);
}

Deno.test({
  name: "exec and fs reach an executor through the registry and rendezvous",
  timeout: 60_000,
}, async () => {
  const dir = await Deno.makeTempDir();
  const token = "registry-token";
  await Deno.writeTextFile(`${dir}/token`, token);
  const env = { CODEX_EXEC_SERVER_REMOTE_BEARER_TOKEN: token, CODEX_EXEC_SERVER_LOG: "warn" };
  const rendezvous = spawnMain(["rendezvous", "--token-file", `${dir}/token`], env);
  let executor: Deno.ChildProcess | undefined;
  try {
    const registry = await firstLine(rendezvous);
    executor = spawnMain(["remote", "--remote", registry, "--executor-id", "e1"], env);
    // Wait for the executor to register (the registry answers 409 until it has).
    const deadline = Date.now() + 15_000;
    for (;;) {
      try {
        const client = await ExecServerClient.connect(
          registryConnector({ registry, executorId: "e1", token }),
        );
        assert.equal(await client.status(), "ready");
        await client.close();
        break;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    const flags = ["--registry", registry, "--executor-id", "e1"];
    const result = await runCli(["exec", ...flags, "--", "sh", "-c", "echo via-relay; exit 4"], {
      env: { CODEX_EXEC_SERVER_REMOTE_BEARER_TOKEN: token },
    });
    assert.equal(result.stdout, "via-relay\n", result.stderr);
    assert.equal(result.code, 4);
    await Deno.writeTextFile(`${dir}/f.txt`, "relayed file\n");
    const cat = await runCli([
      "fs",
      ...flags,
      "--token-file",
      `${dir}/token`,
      "cat",
      `${dir}/f.txt`,
    ]);
    assert.equal(cat.stdout, "relayed file\n", cat.stderr);
    const refused = await runCli(["exec", ...flags, "--", "true"], {
      env: { CODEX_EXEC_SERVER_REMOTE_BEARER_TOKEN: "wrong" },
    });
    assert.equal(refused.code, 255);
    assert.match(refused.stderr, /registry/);
  } finally {
    if (executor) await stop(executor);
    await stop(rendezvous);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "exec through the registry: an executor shutting down ends exec at once, quietly",
  timeout: 60_000,
}, async () => {
  const dir = await Deno.makeTempDir();
  const token = "registry-token";
  await Deno.writeTextFile(`${dir}/token`, token);
  const env = { CODEX_EXEC_SERVER_REMOTE_BEARER_TOKEN: token, CODEX_EXEC_SERVER_LOG: "warn" };
  const rendezvous = spawnMain(["rendezvous", "--token-file", `${dir}/token`], env);
  let executor: Deno.ChildProcess | undefined;
  try {
    const registry = await firstLine(rendezvous);
    executor = spawnMain(["remote", "--remote", registry, "--executor-id", "e2"], env);
    const deadline = Date.now() + 15_000;
    for (;;) {
      try {
        const client = await ExecServerClient.connect(
          registryConnector({ registry, executorId: "e2", token }),
        );
        await client.close();
        break;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    // No CODEX_EXEC_SERVER_LOG: what a user sees, with no internal log lines.
    const cli = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("../../main.ts", import.meta.url).pathname,
        "exec",
        "--registry",
        registry,
        "--executor-id",
        "e2",
        "--",
        "sh",
        "-c",
        "echo started; sleep 30",
      ],
      env: { CODEX_EXEC_SERVER_REMOTE_BEARER_TOKEN: token },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const reader = cli.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let out = "";
    while (!out.includes("started")) {
      const { value, done } = await reader.read();
      if (done) break;
      out += value;
    }
    reader.releaseLock();
    const began = Date.now();
    await stop(executor);
    executor = undefined;
    const [status, stderr] = await Promise.all([cli.status, new Response(cli.stderr).text()]);
    await cli.stdout.cancel().catch(() => {});
    assert.ok(Date.now() - began < 8000, `took ${Date.now() - began} ms`);
    assert.equal(status.code, 255, stderr);
    assert.match(stderr, /is shutting down \(it said: executor shutting down\)/);
    assert.doesNotMatch(stderr, /(WARN|INFO|DEBUG) /, "no internal log lines");
  } finally {
    if (executor) await stop(executor);
    await stop(rendezvous);
  }
});
