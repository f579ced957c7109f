import assert from "node:assert/strict";
import { spawnMain, startServer } from "../_harness.ts";
import { runCli } from "./_cli.ts";
import { CLI, openTerminal } from "./_pty.ts";

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Runs the CLI with piped stdio; `lines()` is stdout so far. */
function startCli(args: string[], env: Record<string, string> = {}) {
  const child = spawnMain(args, { CODEX_EXEC_SERVER_LOG: "warn", ...env });
  let stdout = "";
  let stderr = "";
  const decoder = new TextDecoder();
  const out = (async () => {
    for await (const c of child.stdout) stdout += decoder.decode(c, { stream: true });
  })();
  const err = (async () => {
    for await (const c of child.stderr) stderr += decoder.decode(c, { stream: true });
  })();
  return {
    child,
    stdout: () => stdout,
    async waitStdout(pattern: RegExp, ms = 10_000) {
      const deadline = Date.now() + ms;
      while (!pattern.test(stdout)) {
        if (Date.now() > deadline) throw new Error(`no ${pattern} on stdout: ${stdout}${stderr}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    /** Exit status and stderr; rejects when the CLI is still running after `ms`. */
    async finish(ms: number) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<never>((_, reject) =>
        timer = setTimeout(() => {
          child.kill("SIGKILL");
          reject(new Error(`exec still running after ${ms} ms; stderr: ${stderr}`));
        }, ms)
      );
      try {
        const status = await Promise.race([child.status, late]);
        await Promise.all([out, err]);
        return { code: status.code, stdout, stderr };
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

Deno.test({
  timeout: 60_000,
  name: "exec -t: a line typed during an outage is not sent, and never runs in the local shell",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    for (const ending of ["ctrl-c", "resume window"] as const) {
      await t.step(`outage ended by ${ending}`, async () => {
        const server = await startServer();
        const dir = Deno.makeTempDirSync();
        const marker = `${dir}/typed-during-outage`;
        // After exec, a local shell reads the terminal: whatever exec left unread runs there.
        await using term = await openTerminal(
          `${CLI} exec --url ${server.url} -t -- sh -c 'echo remote-ready; exec cat'; ` +
            `echo "rc=$?"; exec sh`,
          { CODEX_EXEC_SERVER_RESUME_TIMEOUT_MS: ending === "ctrl-c" ? "60000" : "1500" },
        );
        try {
          await term.waitFor(/remote-ready/);
          await server.stop("SIGKILL");
          await term.waitFor(/connection lost; resuming/);
          await term.type(`touch ${marker}\r`);
          await term.waitFor(/what you type now is not sent/);
          if (ending === "ctrl-c") {
            await term.type("\x03");
            await term.waitFor(/rc=130/, { ms: 5000 });
            assert.match(term.text(), /gave up resuming the session/);
          } else {
            await term.waitFor(/rc=255/, { ms: 8000 });
            assert.match(term.text(), /could not resume session[\s\S]*Check that the server/);
          }
          const from = term.text().length;
          await term.type("echo alive-$((6*7))\r");
          await term.waitFor(/alive-42/, { from });
          assert.equal(exists(marker), false, "the line typed during the outage ran somewhere");
        } finally {
          await server.stop("SIGKILL");
        }
      });
    }
  },
});

Deno.test({
  name: "exec: a server shutting down ends exec at once, saying so",
  timeout: 60_000,
}, async () => {
  const server = await startServer();
  const cli = startCli(["exec", "--url", server.url, "--", "sh", "-c", "echo started; sleep 30"]);
  await cli.waitStdout(/started/);
  const began = Date.now();
  await server.stop("SIGTERM");
  const result = await cli.finish(5000);
  assert.ok(Date.now() - began < 5000);
  assert.equal(result.code, 255);
  assert.match(result.stderr, /is shutting down/);
  assert.match(result.stderr, /Start the server again/);
});

Deno.test({
  name: "exec: Ctrl-C while resuming gives up at once with 130",
  timeout: 60_000,
}, async () => {
  const server = await startServer();
  const cli = startCli(["exec", "--url", server.url, "--", "sh", "-c", "echo started; sleep 30"]);
  await cli.waitStdout(/started/);
  await server.stop("SIGKILL");
  // Give the client time to notice the drop and start resuming.
  await new Promise((r) => setTimeout(r, 500));
  cli.child.kill("SIGINT");
  const result = await cli.finish(5000);
  assert.equal(result.code, 130, result.stderr);
  assert.match(result.stderr, /gave up resuming the session/);
});

Deno.test({
  name: "exec finishes when the program exits, whatever a background child holds open",
  timeout: 60_000,
}, async () => {
  await using server = await startServer();
  const began = Date.now();
  const result = await startCli([
    "exec",
    "--url",
    server.url,
    "--",
    "sh",
    "-c",
    "sleep 300 & echo started; exit 3",
  ]).finish(10_000);
  assert.equal(result.stdout, "started\n");
  assert.equal(result.code, 3);
  assert.match(result.stderr, /background process it started keeps its output open/);
  assert.ok(Date.now() - began < 8000, `took ${Date.now() - began} ms`);
});

Deno.test({
  name: "exec: the first Ctrl-C goes to the program, the second ends the client",
  timeout: 60_000,
}, async () => {
  await using server = await startServer();
  const cli = startCli([
    "exec",
    "--url",
    server.url,
    "--",
    "sh",
    "-c",
    "trap 'echo got-int' INT; echo ready; while :; do sleep 0.1; done",
  ]);
  await cli.waitStdout(/ready/);
  cli.child.kill("SIGINT");
  await cli.waitStdout(/got-int/);
  cli.child.kill("SIGINT");
  const result = await cli.finish(5000);
  assert.equal(result.code, 130);
  assert.match(result.stderr, /interrupted twice/);
});

Deno.test({
  name: "exec -t with piped stdin warns as ssh does and runs without a PTY",
  timeout: 60_000,
}, async () => {
  await using server = await startServer();
  const result = await runCli(
    ["exec", "--url", server.url, "-t", "--", "sh", "-c", "test -t 0 || echo no-tty; cat"],
    { stdin: "piped-in\n" },
  );
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout, "no-tty\npiped-in\n");
  assert.match(
    result.stderr,
    /Pseudo-terminal will not be allocated because stdin is not a terminal/,
  );
});
