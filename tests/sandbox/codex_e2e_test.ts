/**
 * The real Codex CLI 0.169.0 (npm, installed into bench/upstream/ like the benchmark's) runs a
 * scripted turn in its default `-s workspace-write` mode against our `serve`
 * (`CODEX_EXEC_SERVER_URL`), with a mock Responses-API model of ours: the shell command's escape
 * attempts are denied, and an apply_patch that adds one file and edits another lands on disk.
 *
 * The command also prints the sandbox's pid 1. Under our server that is our bwrap with our
 * seccomp filter file; Codex's own local sandbox (CODEX_EXEC_SERVER_URL unset) has
 * `codex-linux-sandbox` there, so this test cannot pass without our server.
 */
import assert from "node:assert/strict";
import { startServer } from "../_harness.ts";
import {
  assistantMessage,
  customToolCall,
  functionCall,
  MockModel,
  toolOutputs,
} from "../_mock_model.ts";
import { findUpstream } from "../../scripts/_bench_servers.ts";

const TURN_DEADLINE_MS = 90_000;

Deno.test({
  name: "codex e2e: workspace-write turn through serve denies escapes and applies a patch",
  timeout: 120_000,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const found = await findUpstream({ install: true });
    if (!("binary" in found)) throw new Error(`the Codex CLI is needed: ${found.skipped}`);
    // Not under /tmp: Codex refuses PATH aliases for a CODEX_HOME there (spec §10 quirk).
    const base = await Deno.realPath(await Deno.makeTempDir({ dir: "/var/tmp", prefix: "e2e-" }));
    const home = `${base}/codex-home`;
    const ws = `${base}/work`;
    const outside = `${base}/outside.txt`;
    await Deno.mkdir(home);
    await Deno.mkdir(`${ws}/.git`, { recursive: true });
    await Deno.writeTextFile(`${ws}/.git/HEAD`, "ref: refs/heads/main\n");
    await Deno.writeTextFile(`${ws}/existing.txt`, "line one\nline two\n");

    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (listener.addr as Deno.NetAddr).port;
    let connections = 0;
    const accepting = (async () => {
      for await (const conn of listener) {
        connections++;
        conn.close();
      }
    })().catch(() => {});

    const shell = [
      `echo escaped > ${outside} || echo outside-denied`,
      `echo escaped > ${ws}/.git/escaped || echo git-denied`,
      // bash by name: /dev/tcp is a bash feature, and the user's shell may be dash (as on CI).
      `bash -c 'exec 3<>/dev/tcp/127.0.0.1/${port}' || echo tcp-denied`,
      `echo "pid1: $(tr '\\0' '\\n' < /proc/1/cmdline | head -n 1) ` +
      `$(tr '\\0' '\\n' < /proc/1/cmdline | grep -m 1 -o 'codex-exec-server-sandbox-[0-9a-f]*')"`,
    ].join("; ");
    const patch = [
      "*** Begin Patch",
      "*** Add File: added.txt",
      "+brand new",
      "*** Update File: existing.txt",
      " line one",
      "-line two",
      "+line 2, edited",
      "*** End Patch",
      "",
    ].join("\n");
    await using server = await startServer();
    await using model = MockModel.start({
      responses: [
        [functionCall(
          "exec_command",
          { cmd: shell, tty: false, yield_time_ms: 10_000 },
          "c_shell",
        )],
        [customToolCall("apply_patch", patch, "c_patch")],
        [assistantMessage("done")],
      ],
    });
    await Deno.writeTextFile(`${home}/config.toml`, model.codexConfig({ model: "gpt-5.5" }));
    try {
      const codex = new Deno.Command(found.binary, {
        args: ["exec", "-s", "workspace-write", "--skip-git-repo-check", "escape, then patch"],
        cwd: ws,
        env: { CODEX_HOME: home, CODEX_EXEC_SERVER_URL: server.url, RUST_LOG: "error" },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const timer = setTimeout(() => codex.kill("SIGKILL"), TURN_DEADLINE_MS);
      const out = await codex.output();
      clearTimeout(timer);
      const log = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 0, `codex exec failed:\n${log.slice(-3000)}`);
      assert.equal(model.pending, 0, `the turn stopped early:\n${log.slice(-3000)}`);

      const shellOutput = toolOutputs(model.requests[1].body).c_shell ?? "";
      assert.match(shellOutput, /outside-denied/);
      assert.match(shellOutput, /git-denied/);
      assert.match(shellOutput, /Read-only file system/);
      assert.match(shellOutput, /tcp-denied/);
      assert.match(shellOutput, /Operation not permitted/);
      // Our sandbox, not Codex's local one: pid 1 is our bwrap with our seccomp filter file.
      assert.match(shellOutput, /pid1: \S*bwrap \S*codex-exec-server-sandbox-[0-9a-f]+/);
      assert.equal(connections, 0);
      await assert.rejects(Deno.stat(outside), Deno.errors.NotFound);
      await assert.rejects(Deno.stat(`${ws}/.git/escaped`), Deno.errors.NotFound);

      const patchOutput = toolOutputs(model.requests[2].body).c_patch ?? "";
      assert.doesNotMatch(patchOutput, /Failed to write file/, patchOutput);
      assert.equal(await Deno.readTextFile(`${ws}/added.txt`), "brand new\n");
      assert.equal(await Deno.readTextFile(`${ws}/existing.txt`), "line one\nline 2, edited\n");
    } finally {
      listener.close();
      await accepting;
      await Deno.remove(base, { recursive: true }).catch(() => {});
    }
  },
});
