/**
 * PTY processes through the real server over a real websocket (issue 4 "Done when").
 */
import assert from "node:assert/strict";
import {
  b64text,
  fileUri,
  readToClose,
  startServer,
  TestClient,
  textb64,
  until,
} from "../_harness.ts";

const ENV = { PATH: "/usr/bin:/bin", TERM: "dumb", HOME: "/tmp" };

function startParams(processId: string, argv: string[], extra: Record<string, unknown> = {}) {
  return { processId, argv, cwd: fileUri("/tmp"), env: ENV, tty: true, ...extra };
}

/** Reads a process's output through `process/read` until `pattern` shows up. */
class OutputReader {
  text = "";
  #afterSeq = 0;
  constructor(readonly client: TestClient, readonly processId: string) {}

  async waitFor(pattern: RegExp, timeoutMs = 5000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = this.text.match(pattern);
      if (match) return match;
      if (Date.now() > deadline) {
        throw new Error(`timed out waiting for ${pattern}; got ${JSON.stringify(this.text)}`);
      }
      const r = await this.client.call("process/read", {
        processId: this.processId,
        afterSeq: this.#afterSeq,
        waitMs: 200,
      });
      for (const c of r.chunks as { stream: string; chunk: string }[]) {
        assert.equal(c.stream, "pty");
        this.text += b64text(c.chunk);
      }
      this.#afterSeq = (r.nextSeq as number) - 1;
    }
  }
}

/** Live (non-zombie) processes of session `sid`. */
function liveSessionMembers(sid: number): number[] {
  const out = new Deno.Command("ps", { args: ["-eo", "pid=,sid=,stat="] }).outputSync();
  return new TextDecoder().decode(out.stdout).split("\n").map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length === 3 && Number(f[1]) === sid && !f[2].startsWith("Z"))
    .map((f) => Number(f[0]));
}

/** Command name of the leader of the foreground process group on session `sid`'s terminal. */
function foregroundCommand(sid: number): string {
  try {
    const stat = Deno.readTextFileSync(`/proc/${sid}/stat`);
    const tpgid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[5]);
    return Deno.readTextFileSync(`/proc/${tpgid}/comm`).trim();
  } catch {
    return "";
  }
}

/** The one-letter state of `pid` (`T` when stopped). */
function procState(pid: number): string {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
}

function vmRssKiB(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(status.match(/VmRSS:\s+(\d+) kB/)![1]);
}

async function pidOf(client: TestClient, processId: string): Promise<number> {
  // The child prints its own pid first (`echo pid=$$`); read it from the terminal.
  const reader = new OutputReader(client, processId);
  const [, pid] = await reader.waitFor(/pid=(\d+)/);
  return Number(pid);
}

Deno.test({
  name: "pty server: capabilities advertise resize, closeStdin and signals",
  timeout: 15_000,
}, async () => {
  await using server = await startServer();
  await using client = await TestClient.connect(server.url);
  await client.initialize();
  const info = await client.call("environment/info");
  const caps = info.capabilities as Record<string, boolean>;
  assert.deepEqual(
    [caps.processResize, caps.processCloseStdin, caps.processSignals],
    [true, true, true],
  );
});

Deno.test({
  name: "pty server: stdin and stdout are a terminal, output is stream pty",
  timeout: 15_000,
}, async () => {
  await using server = await startServer();
  await using client = await TestClient.connect(server.url);
  await client.initialize();
  await client.call("process/start", startParams("p", ["sh", "-c", "test -t 0 -a -t 1"]));
  assert.equal((await readToClose(client, "p")).exitCode, 0);
  await client.call(
    "process/start",
    startParams("q", ["sh", "-c", "test -t 0 -a -t 1 && echo tty-ok"]),
  );
  const { output, exitCode } = await readToClose(client, "q");
  assert.deepEqual([output, exitCode], ["tty-ok\r\n", 0]);
  const streams = client.notifications("process/output").filter((n) => n.processId === "q")
    .map((n) => n.stream);
  assert.deepEqual([...new Set(streams)], ["pty"]);
});

Deno.test({
  name: "pty server: stty size is 24 80, then the resized size with the WINCH trap firing",
  timeout: 15_000,
}, async () => {
  await using server = await startServer();
  await using client = await TestClient.connect(server.url);
  await client.initialize();
  await client.call(
    "process/start",
    startParams("w", [
      "sh",
      "-c",
      "trap 'echo winch; stty size' WINCH; stty size; while :; do sleep 0.02; done",
    ]),
  );
  const reader = new OutputReader(client, "w");
  await reader.waitFor(/^24 80\r\n/);
  const resized = await client.call("process/resize", { processId: "w", rows: 50, cols: 132 });
  assert.deepEqual(resized, { status: "accepted" });
  await reader.waitFor(/winch\r\n50 132\r\n/);
  assert.deepEqual(await client.call("process/terminate", { processId: "w" }), { running: true });
  assert.equal((await readToClose(client, "w")).exitCode, 137);
  // After the exit: no error, a clear status.
  assert.deepEqual(
    await client.call("process/resize", { processId: "w", rows: 10, cols: 10 }),
    { status: "exited" },
  );
});

Deno.test({
  name: "pty server: rows and cols on process/start set the initial size",
  timeout: 15_000,
}, async () => {
  await using server = await startServer();
  await using client = await TestClient.connect(server.url);
  await client.initialize();
  await client.call("process/start", startParams("s", ["stty", "size"], { rows: 30, cols: 90 }));
  assert.equal((await readToClose(client, "s")).output, "30 90\r\n");
  const bad = await client.request(
    "process/start",
    startParams("t", ["stty", "size"], { rows: 0 }),
  );
  assert.equal((bad.error as { code: number }).code, -32602);
});

Deno.test({
  name: "pty server: writing ^C interrupts a trap script",
  timeout: 15_000,
}, async () => {
  await using server = await startServer();
  await using client = await TestClient.connect(server.url);
  await client.initialize();
  await client.call(
    "process/start",
    startParams("i", [
      "sh",
      "-c",
      "trap 'echo trapped-int; exit 9' INT; echo ready; while :; do sleep 0.02; done",
    ]),
  );
  await new OutputReader(client, "i").waitFor(/ready/);
  const write = await client.call("process/write", {
    processId: "i",
    chunk: textb64("\x03"),
    writeId: "w1",
  });
  assert.deepEqual(write, { status: "accepted" });
  const { output, exitCode } = await readToClose(client, "i");
  assert.match(output, /trapped-int/);
  assert.equal(exitCode, 9);
});

Deno.test({
  name: "pty server: interactive bash runs a job, ^C stops it, exit 5 gives 5",
  timeout: 15_000,
}, async () => {
  await using server = await startServer();
  await using client = await TestClient.connect(server.url);
  await client.initialize();
  await client.call(
    "process/start",
    startParams("b", ["bash", "--norc", "--noprofile", "-i"], {
      env: { ...ENV, PS1: "PROMPT$ " },
    }),
  );
  const reader = new OutputReader(client, "b");
  let writes = 0;
  const type = (text: string) =>
    client.call("process/write", { processId: "b", chunk: textb64(text), writeId: `${++writes}` });
  await reader.waitFor(/PROMPT\$ $/, 10_000);
  await type("echo pid=$$\n");
  const [, pid] = await reader.waitFor(/\npid=(\d+)\r\n/);
  await type("sleep 30; echo job-finished\n");
  await reader.waitFor(/sleep 30; echo job-finished\r\n/);
  // Typed too early, ^C would reach bash itself, before it has started the job.
  await until(5000, "the job to start", () => foregroundCommand(Number(pid)) === "sleep");
  const interrupted = performance.now();
  await type("\x03");
  await reader.waitFor(/\^C\r?\n?(.|\r|\n)*PROMPT\$ $/);
  assert.ok(performance.now() - interrupted < 2000, "^C stopped the job promptly");
  await type("echo after-$((2+3))\n");
  await reader.waitFor(/after-5\r\n/);
  assert.doesNotMatch(reader.text, /\njob-finished\r\n/, "the job was interrupted, not finished");
  await type("exit 5\n");
  const { exitCode } = await readToClose(client, "b");
  assert.equal(exitCode, 5);
});

Deno.test({
  name: "pty server: process/signal names go to the group; unknown names are -32602",
  timeout: 60_000,
}, async () => {
  await using server = await startServer();
  await using client = await TestClient.connect(server.url);
  await client.initialize();
  const cases: [string, string, number][] = [
    ["interrupt", "INT", 41],
    ["hangup", "HUP", 42],
    ["quit", "QUIT", 43],
    ["terminate", "TERM", 44],
  ];
  for (const [name, trap, code] of cases) {
    const id = `sig-${name}`;
    await client.call(
      "process/start",
      startParams(id, ["sh", "-c", `trap 'exit ${code}' ${trap}; echo ready; sleep 30 & wait`]),
    );
    await new OutputReader(client, id).waitFor(/ready/);
    assert.deepEqual(
      await client.call("process/signal", { processId: id, signal: name }),
      { status: "accepted" },
    );
    assert.equal((await readToClose(client, id)).exitCode, code, name);
  }
  await client.call("process/start", startParams("k", ["sleep", "30"]));
  await client.call("process/signal", { processId: "k", signal: "kill" });
  assert.equal((await readToClose(client, "k")).exitCode, 137);

  const unknown = await client.request("process/signal", { processId: "k", signal: "usr1" });
  const error = unknown.error as { code: number; message: string };
  assert.equal(error.code, -32602);
  for (const name of ["interrupt", "terminate", "kill", "hangup", "quit"]) {
    assert.match(error.message, new RegExp(`\`${name}\``));
  }
  for (const method of ["process/signal", "process/closeStdin", "process/resize"]) {
    const params = { processId: "nope", signal: "interrupt", rows: 5, cols: 5 };
    assert.deepEqual(await client.call(method, params), { status: "unknownProcess" }, method);
  }
  assert.deepEqual(
    await client.call("process/signal", { processId: "k", signal: "interrupt" }),
    { status: "exited" },
  );
});

Deno.test({
  name: "pty server: closeStdin is ^D on a terminal and EOF on a stdin pipe",
  timeout: 15_000,
}, async () => {
  await using server = await startServer();
  await using client = await TestClient.connect(server.url);
  await client.initialize();
  await client.call("process/start", startParams("t", ["sh", "-c", "cat; echo cat-done"]));
  await client.call("process/write", { processId: "t", chunk: textb64("abc\n"), writeId: "1" });
  assert.deepEqual(await client.call("process/closeStdin", { processId: "t" }), {
    status: "accepted",
  });
  const tty = await readToClose(client, "t");
  assert.deepEqual([tty.output, tty.exitCode], ["abc\r\nabc\r\ncat-done\r\n", 0]);

  await client.call(
    "process/start",
    startParams("p", ["wc", "-c"], { tty: false, pipeStdin: true }),
  );
  await client.call("process/write", { processId: "p", chunk: textb64("12345"), writeId: "1" });
  assert.deepEqual(await client.call("process/closeStdin", { processId: "p" }), {
    status: "accepted",
  });
  const pipe = await readToClose(client, "p");
  assert.deepEqual([pipe.stdout.trim(), pipe.exitCode], ["5", 0]);

  await client.call("process/start", startParams("n", ["sleep", "30"], { tty: false }));
  assert.deepEqual(await client.call("process/closeStdin", { processId: "n" }), {
    status: "stdinClosed",
  });
  assert.deepEqual(
    await client.call("process/resize", { processId: "n", rows: 5, cols: 5 }),
    { status: "notTty" },
  );
  await client.call("process/terminate", { processId: "n" });
});

Deno.test({
  name: "pty server: a 2 MiB write arrives whole",
  timeout: 15_000,
}, async () => {
  await using server = await startServer();
  await using client = await TestClient.connect(server.url);
  await client.initialize();
  const line = "ghijklmnopqrstuvwxyzghijklmnopqrstuvwxyzghijklmnopqrstuvwxyzghi\n";
  const data = line.repeat(2 * 1024 * 1024 / line.length);
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", new TextEncoder().encode(data)),
  );
  const hex = Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
  await client.call(
    "process/start",
    startParams("big", ["sh", "-c", `stty -echo; head -c ${data.length} | sha256sum`]),
  );
  const started = performance.now();
  const written = await client.call("process/write", {
    processId: "big",
    chunk: btoa(data),
    writeId: "big-1",
  });
  assert.deepEqual(written, { status: "accepted" });
  const { output, exitCode } = await readToClose(client, "big");
  assert.equal(exitCode, 0);
  assert.match(output, new RegExp(`${hex}  -`));
  console.log(`2 MiB write through server + pty: ${(performance.now() - started).toFixed(0)} ms`);
});

Deno.test({
  name: "pty server: yes flooding with no reader keeps server memory bounded",
  timeout: 60_000,
}, async () => {
  // A capped heap turns any unbounded retention into a crash, and small heap limits keep V8's
  // garbage slack from hiding a trend in RSS.
  await using server = await startServer({
    env: { DENO_V8_FLAGS: "--max-old-space-size=48,--max-semi-space-size=2" },
  });
  const client = await TestClient.connect(server.url);
  const init = await client.initialize();
  // The shell stops itself before it becomes `yes`: output that flowed while still attached
  // would be evicted at full speed, and under load the server can take long to see the detach.
  await client.call(
    "process/start",
    startParams("y", ["sh", "-c", "echo pid=$$; kill -STOP $$; exec yes"]),
  );
  const pid = await pidOf(client, "y");
  await until(5000, "the shell to stop itself", () => procState(pid) === "T");
  // Detach: nobody receives notifications or reads; the server fills the 1 MiB retention, then
  // stops reading the terminal (issue 12) instead of evicting at full speed.
  await client.close();
  Deno.kill(pid, "SIGCONT");
  const baseline = vmRssKiB(server.child.pid);
  const samples: number[] = [];
  for (let i = 0; i < 12; i++) {
    await new Promise((r) => setTimeout(r, 500));
    samples.push(vmRssKiB(server.child.pid));
  }
  const peak = Math.max(...samples);
  const lateGrowth = samples[11] - samples[5];
  console.log(
    `server VmRSS under 6 s of yes: baseline ${(baseline / 1024).toFixed(1)} MiB, ` +
      `peak ${(peak / 1024).toFixed(1)} MiB, growth over the last 3 s ${
        (lateGrowth / 1024).toFixed(1)
      } MiB`,
  );
  // Stop `yes` before resuming: an attach resumes reading, and what it then reads would evict
  // the oldest chunks before this read; stopped, only the terminal's own buffer is left.
  Deno.kill(pid, "SIGSTOP");
  await until(5000, "yes to stop", () => procState(pid) === "T");
  await using again = await TestClient.connect(server.url);
  await again.initialize(init.sessionId as string);
  const r = await again.call("process/read", { processId: "y", afterSeq: 0 });
  const chunks = r.chunks as { seq: number; chunk: string }[];
  const retained = chunks.reduce((sum, c) => sum + atob(c.chunk).length, 0);
  assert.ok(retained <= 1024 * 1024, `retained ${retained} bytes`);
  // Reading stopped once the buffer was full: what came since the detach is kept, none evicted.
  assert.ok(retained > 1024 * 1024 - 64 * 1024, `retained ${retained} bytes`);
  assert.ok(chunks[0].seq < 100, `first retained seq ${chunks[0].seq}`);
  assert.equal(r.closed, false);
  assert.ok(peak - baseline < 64 * 1024, `RSS grew by ${peak - baseline} KiB`);
  assert.ok(lateGrowth < 10 * 1024, `RSS still growing: ${lateGrowth} KiB in 3 s`);
  await again.call("process/terminate", { processId: "y" });
  assert.equal((await readToClose(again, "y")).exitCode, 137);
});

Deno.test({
  name: "pty server: sh -c 'sleep 30 & echo hi' closes promptly after the shell exits",
  timeout: 15_000,
}, async () => {
  await using server = await startServer();
  await using client = await TestClient.connect(server.url);
  await client.initialize();
  const started = performance.now();
  await client.call(
    "process/start",
    startParams("bg", ["sh", "-c", "echo pid=$$; sleep 30 & echo hi"]),
  );
  const { output, exitCode } = await readToClose(client, "bg");
  const elapsed = performance.now() - started;
  assert.equal(exitCode, 0);
  assert.match(output, /hi\r\n/);
  // No clock bound: the job sleeps 30 s, twice the test's deadline, so waiting for it fails.
  console.log(`sleep 30 & echo hi: closed ${elapsed.toFixed(0)} ms after start`);
  const pid = Number(output.match(/pid=(\d+)/)![1]);
  await until(2000, "the sleep to be gone", () => liveSessionMembers(pid).length === 0);
});

Deno.test({
  name: "pty server: terminate kills grandchildren, including other job groups",
  timeout: 15_000,
}, async () => {
  await using server = await startServer();
  await using client = await TestClient.connect(server.url);
  await client.initialize();
  // A plain script (one process group) and an interactive shell whose job has its own group.
  await client.call(
    "process/start",
    startParams("g", ["sh", "-c", "echo pid=$$; sh -c 'sleep 100 & sleep 100' & wait"]),
  );
  await client.call(
    "process/start",
    startParams("j", ["bash", "--norc", "--noprofile", "-i"], {
      env: { ...ENV, PS1: "$ " },
    }),
  );
  await client.call("process/write", {
    processId: "j",
    chunk: textb64("echo pid=$$; sleep 100 & sleep 100 &\n"),
    writeId: "1",
  });
  const pids = [await pidOf(client, "g"), await pidOf(client, "j")];
  await until(
    5000,
    "grandchildren to start",
    () => pids.every((pid) => liveSessionMembers(pid).length >= 3),
  );
  for (const id of ["g", "j"]) {
    assert.deepEqual(await client.call("process/terminate", { processId: id }), { running: true });
  }
  for (const id of ["g", "j"]) assert.equal((await readToClose(client, id)).exitCode, 137);
  await until(
    2000,
    "no process of either session left (zombies aside)",
    () => pids.every((pid) => liveSessionMembers(pid).length === 0),
  );
});

Deno.test({
  name: "pty server: a server killed outright takes its PTY children with it (hangup)",
  timeout: 15_000,
}, async () => {
  const server = await startServer();
  const client = await TestClient.connect(server.url);
  await client.initialize();
  await client.call(
    "process/start",
    startParams("h", ["sh", "-c", "echo pid=$$; sleep 100 & sleep 100"]),
  );
  const pid = await pidOf(client, "h");
  await until(5000, "the sleeps to start", () => liveSessionMembers(pid).length === 3);
  // No cleanup code runs on SIGKILL: the kernel closes the master and hangs up the terminal.
  await server.stop("SIGKILL");
  await client.close();
  await until(3000, "the session to die", () => liveSessionMembers(pid).length === 0);
});
