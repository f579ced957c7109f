/**
 * Sandboxed `process/start` through the real server and real bubblewrap (issue 11): what a
 * command may write, read and connect to under Codex's workspace-write and read-only profiles.
 */
import assert from "node:assert/strict";
import {
  b64text,
  fileUri,
  isAlive,
  readToClose,
  startServer,
  TestClient,
  until,
} from "../_harness.ts";
import { readOnly, scratchWorkspace, workspaceWrite } from "./_profiles.ts";

/** Live processes whose argv[0] starts with `prefix` (set with `exec -a`). */
function processesNamed(prefix: string): number[] {
  const pids: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const argv0 = Deno.readTextFileSync(`/proc/${entry.name}/cmdline`).split("\0")[0];
      if (argv0.startsWith(prefix) && isAlive(Number(entry.name))) pids.push(Number(entry.name));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

const ENV = { PATH: "/usr/bin:/bin", HOME: "/root", LANG: "C" };

/** One line per probe: `name ok` or `name denied: <error text>`. */
function probeScript(ws: string, tag: string): string {
  const probes: [string, string][] = [
    ["workspace", `echo x > ${ws}/${tag}-ws.txt`],
    ["tmp", `echo x > /tmp/${tag}-tmp.txt`],
    ["outside", `echo x > /var/tmp/${tag}-outside.txt`],
    ["git", `echo x > ${ws}/.git/${tag}-x`],
    ["codex", `mkdir -p ${ws}/.codex/${tag} && echo x > ${ws}/.codex/${tag}/x`],
    ["tcp", `exec 3<>/dev/tcp/127.0.0.1/PORT`],
    ["passwd", `head -c 5 /etc/passwd >/dev/null`],
  ];
  return probes.map(([name, cmd]) =>
    `if err=$( (${cmd}) 2>&1 ); then echo "${name} ok"; else echo "${name} denied: $err"; fi`
  ).join("\n");
}

function parseProbes(output: string): Record<string, string> {
  const result: Record<string, string> = {};
  for (const line of output.split("\n")) {
    const match = line.match(/^(\w+) (ok|denied)(?:: (.*))?$/);
    if (match) result[match[1]] = match[2] === "ok" ? "ok" : match[3] ?? "denied";
  }
  return result;
}

async function withListener<T>(fn: (port: number) => Promise<T>): Promise<T> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted: Deno.Conn[] = [];
  const loop = (async () => {
    for await (const conn of listener) accepted.push(conn);
  })().catch(() => {});
  try {
    return await fn((listener.addr as Deno.NetAddr).port);
  } finally {
    listener.close();
    await loop;
    for (const conn of accepted) conn.close();
    assert.equal(accepted.length, 0, "a sandboxed command connected to 127.0.0.1");
  }
}

Deno.test({
  name: "sandbox: workspace-write confines a command like upstream",
  timeout: 30_000,
}, async () => {
  await using scratch = await scratchWorkspace();
  const { ws } = scratch;
  await using server = await startServer();
  await using client = await TestClient.connect(server.url);
  await client.initialize();
  const tag = `ww${Date.now()}`;
  try {
    await withListener(async (port) => {
      const started = await client.call("process/start", {
        processId: "ww",
        argv: ["/bin/bash", "-c", probeScript(ws, tag).replace("PORT", String(port))],
        cwd: fileUri(ws),
        env: ENV,
        tty: false,
        sandbox: workspaceWrite(ws),
      });
      assert.deepEqual(started, { processId: "ww", sandboxType: "linuxSeccomp" });
      const { stdout, exitCode } = await readToClose(client, "ww");
      assert.equal(exitCode, 0);
      const probes = parseProbes(stdout);
      assert.equal(probes.workspace, "ok");
      assert.equal(probes.tmp, "ok");
      assert.match(probes.outside, /Read-only file system/);
      assert.match(probes.git, /Read-only file system/);
      assert.match(probes.codex, /Read-only file system/);
      assert.match(probes.tcp, /Operation not permitted/);
      assert.equal(probes.passwd, "ok");
    });
    assert.equal(await Deno.readTextFile(`${ws}/${tag}-ws.txt`), "x\n");
    assert.equal(await Deno.readTextFile(`/tmp/${tag}-tmp.txt`), "x\n");
    await assert.rejects(Deno.stat(`/var/tmp/${tag}-outside.txt`), Deno.errors.NotFound);
    await assert.rejects(Deno.stat(`${ws}/.git/${tag}-x`), Deno.errors.NotFound);
    // The mask that kept `.codex` uncreatable is gone again once the command has exited.
    await until(5000, ".codex mountpoint removed", async () => {
      try {
        await Deno.lstat(`${ws}/.codex`);
        return false;
      } catch {
        return true;
      }
    });
  } finally {
    await Deno.remove(`/tmp/${tag}-tmp.txt`).catch(() => {});
    await Deno.remove(`/var/tmp/${tag}-outside.txt`).catch(() => {});
  }
});

Deno.test({
  name: "sandbox: read-only makes nothing writable; no sandbox runs unconfined",
  timeout: 30_000,
}, async () => {
  await using scratch = await scratchWorkspace();
  const { ws } = scratch;
  await using server = await startServer();
  await using client = await TestClient.connect(server.url);
  await client.initialize();
  const tag = `ro${Date.now()}`;
  try {
    await withListener(async (port) => {
      const script = probeScript(ws, tag).replace("PORT", String(port));
      const started = await client.call("process/start", {
        processId: "ro",
        argv: ["/bin/bash", "-c", script],
        cwd: fileUri(ws),
        env: ENV,
        tty: false,
        sandbox: readOnly(ws),
      });
      assert.equal(started.sandboxType, "linuxSeccomp");
      const probes = parseProbes((await readToClose(client, "ro")).stdout);
      for (const name of ["workspace", "tmp", "outside", "git"]) {
        assert.match(probes[name], /Read-only file system/, name);
      }
      assert.match(probes.codex, /Read-only file system|No such file or directory/);
      assert.match(probes.tcp, /Operation not permitted/);
      assert.equal(probes.passwd, "ok");
    });
    const state = await client.call("process/start", {
      processId: "status",
      argv: [
        "/bin/sh",
        "-c",
        "grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status; ls /dev/tcp 2>&1 | head -c 0",
      ],
      cwd: fileUri(ws),
      env: ENV,
      tty: false,
      sandbox: { permissions: { type: "disabled" } },
    });
    assert.equal(state.sandboxType, "none");
    const { stdout } = await readToClose(client, "status");
    assert.match(stdout, /Seccomp:\s+0/);
  } finally {
    await Deno.remove(`/tmp/${tag}-tmp.txt`).catch(() => {});
  }
});

Deno.test({
  name: "sandbox: kernel state, sandboxDenied, and a profile we cannot honour",
  timeout: 30_000,
}, async () => {
  await using scratch = await scratchWorkspace();
  const { ws } = scratch;
  await using server = await startServer();
  await using client = await TestClient.connect(server.url);
  await client.initialize();
  await client.call("process/start", {
    processId: "state",
    argv: [
      "/bin/sh",
      "-c",
      "grep -E '^(NoNewPrivs|Seccomp|CapEff):' /proc/self/status; cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d ' '",
    ],
    cwd: fileUri(ws),
    env: ENV,
    tty: false,
    sandbox: workspaceWrite(ws),
  });
  const state = (await readToClose(client, "state")).stdout;
  assert.match(state, /NoNewPrivs:\s+1/);
  assert.match(state, /Seccomp:\s+2/);
  assert.match(state, /CapEff:\s+0+\n/);
  assert.deepEqual(state.split("\n").filter((l) => /^[a-z0-9]+$/.test(l)), ["lo"]);

  await client.call("process/start", {
    processId: "denied",
    argv: ["/bin/sh", "-c", `echo x > /var/tmp/denied-${Date.now()}`],
    cwd: fileUri(ws),
    env: ENV,
    tty: false,
    sandbox: workspaceWrite(ws),
  });
  const exited = await client.waitFor((m) =>
    m.method === "process/exited" && (m.params as { processId: string }).processId === "denied"
  );
  assert.equal((exited.params as { exitCode: number }).exitCode, 2);
  assert.equal((exited.params as { sandboxDenied: boolean }).sandboxDenied, true);
  const read = await client.call("process/read", { processId: "denied", afterSeq: 0 });
  assert.equal(read.sandboxDenied, true);

  await client.call("process/start", {
    processId: "plain-fail",
    argv: ["/bin/sh", "-c", "exit 3"],
    cwd: fileUri(ws),
    env: ENV,
    tty: false,
    sandbox: workspaceWrite(ws),
  });
  const plain = await client.waitFor((m) =>
    m.method === "process/exited" &&
    (m.params as { processId: string }).processId === "plain-fail"
  );
  assert.equal((plain.params as { sandboxDenied: boolean }).sandboxDenied, false);

  const bogus = await client.request("process/start", {
    processId: "bogus",
    argv: ["/bin/true"],
    cwd: fileUri(ws),
    env: ENV,
    tty: false,
    sandbox: { permissions: { type: "bogus" } },
  });
  assert.equal((bogus.error as { code: number }).code, -32602);
  assert.match((bogus.error as { message: string }).message, /`managed`, `disabled`, `external`/);
  const glob = workspaceWrite(ws);
  (glob.permissions as { file_system: { entries: unknown[] } }).file_system.entries.push({
    path: { type: "glob_pattern", pattern: `${ws}/**/*.env` },
    access: "deny",
  });
  const refused = await client.request("process/start", {
    processId: "glob",
    argv: ["/bin/true"],
    cwd: fileUri(ws),
    env: ENV,
    tty: false,
    sandbox: glob,
  });
  assert.equal((refused.error as { code: number }).code, -32602);
  assert.match((refused.error as { message: string }).message, /glob_pattern/);
  const missing = await client.request("process/start", {
    processId: "missing",
    argv: ["no-such-program-here"],
    cwd: fileUri(ws),
    env: ENV,
    tty: false,
    sandbox: workspaceWrite(ws),
  });
  assert.deepEqual(missing.error, {
    code: -32603,
    message: "No such file or directory (os error 2)",
  });
});

Deno.test({
  name: "sandbox: a PTY command is confined, keeps its terminal, and terminate leaves nothing",
  timeout: 30_000,
}, async () => {
  await using scratch = await scratchWorkspace();
  const { ws } = scratch;
  await using server = await startServer();
  await using client = await TestClient.connect(server.url);
  await client.initialize();
  const marker = `sbx-sleep-${Date.now()}`;
  const started = await client.call("process/start", {
    processId: "pty",
    argv: [
      "/bin/bash",
      "-c",
      `test -t 0 && echo tty-yes; echo x > /var/tmp/${marker} 2>/dev/null || echo pty-denied; ` +
      `(exec -a ${marker} sleep 300) & exec -a ${marker}-main sleep 300`,
    ],
    cwd: fileUri(ws),
    env: ENV,
    tty: true,
    sandbox: workspaceWrite(ws),
  });
  assert.equal(started.sandboxType, "linuxSeccomp");
  let text = "";
  let afterSeq = 0;
  const deadline = Date.now() + 10_000;
  while (!text.includes("pty-denied") && Date.now() < deadline) {
    const r = await client.call("process/read", { processId: "pty", afterSeq, waitMs: 500 });
    for (const c of r.chunks as { chunk: string }[]) text += b64text(c.chunk);
    afterSeq = (r.nextSeq as number) - 1;
  }
  assert.match(text, /tty-yes/);
  assert.match(text, /pty-denied/);
  const sleepers = () => processesNamed(marker);
  await until(5000, "both sleeps running", () => sleepers().length === 2);
  assert.deepEqual(await client.call("process/terminate", { processId: "pty" }), { running: true });
  await until(5000, "the whole sandbox gone", () => sleepers().length === 0);
  await client.waitFor((m) =>
    m.method === "process/closed" && (m.params as { processId: string }).processId === "pty"
  );
});

Deno.test({
  name: "sandbox: pipe command keeps stdin and terminate kills background jobs",
  timeout: 30_000,
}, async () => {
  await using scratch = await scratchWorkspace();
  const { ws } = scratch;
  await using server = await startServer();
  await using client = await TestClient.connect(server.url);
  await client.initialize();
  const marker = `sbx-bg-${Date.now()}`;
  await client.call("process/start", {
    processId: "cat",
    argv: ["/bin/sh", "-c", "read line; echo got:$line"],
    cwd: fileUri(ws),
    env: ENV,
    tty: false,
    pipeStdin: true,
    sandbox: workspaceWrite(ws),
  });
  await client.call("process/write", {
    processId: "cat",
    chunk: btoa("hello\n"),
    writeId: "w1",
  });
  const { stdout } = await readToClose(client, "cat");
  assert.equal(stdout, "got:hello\n");
  await client.call("process/start", {
    processId: "bg",
    argv: ["/bin/bash", "-c", `(exec -a ${marker} sleep 300) & echo started; wait`],
    cwd: fileUri(ws),
    env: ENV,
    tty: false,
    sandbox: workspaceWrite(ws),
  });
  const sleepers = () => processesNamed(marker);
  await until(5000, "background sleep running", () => sleepers().length === 1);
  await client.call("process/terminate", { processId: "bg" });
  await until(5000, "background sleep killed", () => sleepers().length === 0);
});
