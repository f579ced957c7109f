import assert from "node:assert/strict";
import { PtySpawner } from "../../lib/process/pty_spawner.ts";
import { ROOT, startServer } from "../_harness.ts";
import { startTcpProxy } from "../_tcp_proxy.ts";
import { runCli } from "./_cli.ts";

Deno.test({
  name: "exec exits with the remote exit code: 0, 7, and 128+N for a signal",
  timeout: 30_000,
}, async () => {
  await using server = await startServer();
  const [ok, seven, term, killed, missing] = await Promise.all([
    runCli(["exec", "--url", server.url, "--", "true"]),
    runCli(["exec", "--url", server.url, "--", "sh", "-c", "exit 7"]),
    runCli(["exec", "--url", server.url, "--", "sh", "-c", "kill -TERM $$"]),
    runCli(["exec", "--url", server.url, "--", "sh", "-c", "kill -KILL $$"]),
    runCli(["exec", "--url", server.url, "--", "no-such-program-here"]),
  ]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(seven.code, 7, seven.stderr);
  assert.equal(term.code, 143, term.stderr);
  assert.equal(killed.code, 137, killed.stderr);
  assert.equal(missing.code, 127);
  assert.match(missing.stderr, /cannot start `no-such-program-here`: No such file or directory/);
});

Deno.test({
  name: "exec keeps stdout and stderr apart",
  timeout: 30_000,
}, async () => {
  await using server = await startServer();
  const result = await runCli([
    "exec",
    "--url",
    server.url,
    "--",
    "sh",
    "-c",
    "echo out1; echo err1 >&2; echo out2; echo err2 >&2",
  ]);
  assert.equal(result.code, 0);
  assert.equal(result.stdout, "out1\nout2\n");
  assert.equal(result.stderr, "err1\nerr2\n");
});

Deno.test({
  name: "exec streams stdin to the program and its EOF closes the program's stdin",
  timeout: 30_000,
}, async () => {
  await using server = await startServer();
  const small = await runCli(["exec", "--url", server.url, "--", "sh", "-c", "cat; echo EOF"], {
    stdin: "x\ny\n",
  });
  assert.equal(small.stdout, "x\ny\nEOF\n");
  const big = new Uint8Array(3 * 1024 * 1024).fill(0x61);
  const large = await runCli(["exec", "--url", server.url, "--", "wc", "-c"], { stdin: big });
  assert.equal(large.stdout.trim(), String(big.length));
  assert.equal(large.code, 0);
});

Deno.test({
  name: "exec takes --cwd, --env and CODEX_EXEC_SERVER_URL",
  timeout: 30_000,
}, async () => {
  await using server = await startServer();
  const result = await runCli(
    [
      "exec",
      "--cwd",
      "/tmp",
      "--env",
      "GREETING=hi there",
      "--",
      "sh",
      "-c",
      'pwd; echo "$GREETING"',
    ],
    { env: { CODEX_EXEC_SERVER_URL: server.url } },
  );
  assert.equal(result.stdout, "/tmp\nhi there\n");
});

Deno.test({
  name: "exec explains an unreachable server and exits 255",
  timeout: 15_000,
}, async () => {
  const result = await runCli(["exec", "--url", "ws://127.0.0.1:1", "--", "true"]);
  assert.equal(result.code, 255);
  assert.match(result.stderr, /ws:\/\/127\.0\.0\.1:1/);
  assert.match(result.stderr, /codex-exec-server serve/);
});

Deno.test({
  name: "exec output survives a websocket cut mid-command: complete and once",
  timeout: 30_000,
}, async () => {
  await using server = await startServer();
  await using proxy = startTcpProxy(server.url);
  let seen = "";
  let cut = false;
  const result = await runCli([
    "exec",
    "--url",
    proxy.url,
    "--",
    "sh",
    "-c",
    "for i in $(seq 1 60); do echo line $i; sleep 0.01; done; exit 5",
  ], {
    onStdout(text) {
      seen += text;
      if (!cut && seen.includes("line 10\n")) {
        cut = true;
        proxy.cut();
      }
    },
  });
  assert.ok(cut, "the connection was cut");
  let expected = "";
  for (let i = 1; i <= 60; i++) expected += `line ${i}\n`;
  assert.equal(result.stdout, expected);
  assert.equal(result.code, 5);
  assert.ok(proxy.accepted >= 2, "the client reconnected");
});

Deno.test({
  name: "exec -t: a real PTY with the local size, resizes, Ctrl-C, terminal restored",
  timeout: 30_000,
}, async () => {
  await using server = await startServer();
  const remote = `test -t 0 && test -t 1 && echo isatty:yes; echo "size:$(stty size)"; ` +
    `trap 'echo "size:$(stty size)"' WINCH; echo ready; while :; do sleep 0.05; done`;
  // The CLI runs inside a local PTY (30x100); afterwards the shell reports the exit code and
  // the terminal modes, which must be cooked again.
  const outer = `'${Deno.execPath()}' run -A '${ROOT}main.ts' exec --url ${server.url} -t -- ` +
    `sh -c '${remote.replaceAll("'", "'\\''")}'; echo "rc=$?"; stty -a`;
  const child = await new PtySpawner().spawn({
    argv: ["sh", "-c", outer],
    cwd: ROOT,
    env: { ...Deno.env.toObject(), TERM: "xterm", CODEX_EXEC_SERVER_LOG: "warn" },
    pipeStdin: false,
    rows: 30,
    cols: 100,
  });
  let text = "";
  const decoder = new TextDecoder();
  const drained = (async () => {
    for await (const bytes of child.outputs[0].readable) {
      text += decoder.decode(bytes, { stream: true });
    }
  })();
  const waitFor = async (pattern: RegExp) => {
    const deadline = Date.now() + 10_000;
    while (!pattern.test(text)) {
      if (Date.now() > deadline) throw new Error(`no ${pattern} in ${JSON.stringify(text)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  try {
    await waitFor(/ready/);
    assert.match(text, /isatty:yes/);
    assert.match(text, /size:30 100/);
    child.resize!(40, 120);
    await waitFor(/size:40 120/);
    await child.write(new Uint8Array([0x03]));
    // Wait for the local-mode line of `stty -a` (it comes after "speed ..."), not just its start.
    await waitFor(/rc=\d+[\s\S]*speed[\s\S]*echoke/);
    assert.match(text, /rc=130/);
    const modes = text.slice(text.indexOf("rc=130"));
    assert.match(modes, /(^|\s)icanon(\s|$)/m, "canonical mode restored");
    assert.match(modes, /(^|\s)echo(\s|$)/m, "echo restored");
    assert.match(modes, /(^|\s)isig(\s|$)/m, "signals restored");
    assert.equal(await child.exitCode, 0);
  } finally {
    child.signalGroup("SIGKILL");
    await child.exitCode;
    await drained;
  }
});
