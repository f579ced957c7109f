import assert from "node:assert/strict";
import { PtySpawner } from "../../lib/process/pty_spawner.ts";
import type { ChildHandle, SpawnRequest } from "../../lib/process/spawner.ts";
import { RpcError } from "../../lib/jsonrpc/errors.ts";

const ENV = { PATH: "/usr/bin:/bin" };
const spawner = new PtySpawner();

function request(argv: string[], extra: Partial<SpawnRequest> = {}): SpawnRequest {
  return { argv, cwd: "/tmp", env: ENV, pipeStdin: false, ...extra };
}

/** Drains the `pty` stream (as the process table does) and lets a test wait for text. */
class Terminal {
  text = "";
  bytes = 0;
  readonly ended: Promise<void>;
  #waiters: (() => void)[] = [];

  constructor(readonly child: ChildHandle) {
    assert.deepEqual(child.outputs.map((o) => o.stream), ["pty"]);
    this.ended = this.#drain();
  }

  async #drain(): Promise<void> {
    const decoder = new TextDecoder();
    for await (const bytes of this.child.outputs[0].readable) {
      this.bytes += bytes.length;
      // Keep only a tail: enough to match on, bounded under a flood.
      this.text = (this.text + decoder.decode(bytes, { stream: true })).slice(-65536);
      for (const wake of this.#waiters.splice(0)) wake();
    }
  }

  async waitFor(pattern: RegExp, ms = 5000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + ms;
    for (;;) {
      const match = this.text.match(pattern);
      if (match) return match;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`timed out waiting for ${pattern}; got ${JSON.stringify(this.text)}`);
      }
      const { promise, resolve } = Promise.withResolvers<void>();
      this.#waiters.push(resolve);
      const timer = setTimeout(resolve, Math.min(left, 50));
      await promise;
      clearTimeout(timer);
    }
  }

  /** Exit code once the stream has ended too (the table's `closed`). */
  async closed(): Promise<number> {
    const [code] = await Promise.all([this.child.exitCode, this.ended]);
    return code;
  }
}

async function rejection(start: () => Promise<unknown>): Promise<unknown> {
  try {
    await start();
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection");
}

async function run(req: SpawnRequest): Promise<Terminal> {
  return new Terminal(await spawner.spawn(req));
}

/**
 * What is still alive in the session once kills had time to land: a SIGKILLed process needs a
 * moment to become a zombie, so poll for up to 2 s before reporting survivors.
 */
async function survivorsInSession(sid: number): Promise<number[]> {
  for (let i = 0; i < 200 && aliveInSession(sid).length > 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return aliveInSession(sid);
}

function aliveInSession(sid: number): number[] {
  const alive: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${entry.name}/stat`);
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (fields[0] !== "Z" && Number(fields[3]) === sid) alive.push(Number(entry.name));
    } catch {
      // gone
    }
  }
  return alive;
}

Deno.test({
  name: "pty child has a terminal on stdin and stdout",
  timeout: 15_000,
}, async () => {
  const term = await run(request(["sh", "-c", "test -t 0 -a -t 1 && echo is-a-tty"]));
  assert.deepEqual(await term.closed(), 0);
  assert.match(term.text, /is-a-tty\r\n/);
});

Deno.test({
  name: "pty child is a session leader with the terminal as controlling tty",
  timeout: 15_000,
}, async () => {
  const term = await run(request(["sh", "-c", "ps -o pid=,pgid=,sid=,tty= -p $$"]));
  assert.deepEqual(await term.closed(), 0);
  const [pid, pgid, sid, tty] = term.text.trim().split(/\s+/);
  assert.deepEqual([Number(pid), Number(pgid), Number(sid)], Array(3).fill(term.child.pid));
  assert.match(tty, /^pts\/\d+$/);
});

Deno.test({
  name: "pty window defaults to 24x80 and honours rows/cols",
  timeout: 15_000,
}, async () => {
  const byDefault = await run(request(["stty", "size"]));
  assert.deepEqual(await byDefault.closed(), 0);
  assert.deepEqual(byDefault.text, "24 80\r\n");
  const sized = await run(request(["stty", "size"], { rows: 40, cols: 132 }));
  assert.deepEqual(await sized.closed(), 0);
  assert.deepEqual(sized.text, "40 132\r\n");
});

Deno.test({
  name: "pty spawn rejects out-of-range window sizes",
  timeout: 15_000,
}, async () => {
  const error = await rejection(() => spawner.spawn(request(["true"], { rows: 0 })));
  assert.ok(error instanceof RpcError);
  assert.deepEqual(error.code, -32602);
});

Deno.test({
  name: "pty child sees exactly the requested environment",
  timeout: 15_000,
}, async () => {
  const term = await run(request(["env"], { env: { A: "1", PATH: "/usr/bin:/bin" } }));
  assert.deepEqual(await term.closed(), 0);
  assert.deepEqual(term.text.split("\r\n").filter(Boolean).sort(), ["A=1", "PATH=/usr/bin:/bin"]);
});

Deno.test({
  name: "pty resize changes the size and fires the child's WINCH trap",
  timeout: 15_000,
}, async () => {
  const term = await run(request([
    "sh",
    "-c",
    "trap 'echo winch; stty size' WINCH; stty size; while :; do sleep 0.02; done",
  ]));
  await term.waitFor(/24 80/);
  term.child.resize!(30, 100);
  await term.waitFor(/winch\r\n30 100\r\n/);
  term.child.signalGroup("SIGKILL");
  assert.deepEqual(await term.closed(), 128 + 9);
});

Deno.test({
  name: "writing ^C interrupts the foreground job through the line discipline",
  timeout: 15_000,
}, async () => {
  const term = await run(request([
    "sh",
    "-c",
    "trap 'echo got-int; exit 3' INT; echo ready; while :; do sleep 0.02; done",
  ]));
  await term.waitFor(/ready/);
  await term.child.write(new TextEncoder().encode("\x03"));
  assert.deepEqual(await term.closed(), 3);
  assert.match(term.text, /got-int/);
});

Deno.test({
  name: "SIGINT from signalGroup reaches the foreground group",
  timeout: 15_000,
}, async () => {
  const term = await run(
    request(["sh", "-c", "trap 'exit 4' INT; echo ready; while :; do sleep 0.02; done"]),
  );
  await term.waitFor(/ready/);
  term.child.signalGroup("SIGINT");
  assert.deepEqual(await term.closed(), 4);
});

Deno.test({
  name: "SIGINT from signalGroup stops a job-control shell's foreground job, not the shell",
  timeout: 15_000,
}, async () => {
  const term = await run(request(["bash", "--norc", "--noprofile", "-i"], {
    env: { ...ENV, PS1: "P$ ", TERM: "dumb" },
  }));
  await term.waitFor(/P\$ $/);
  await term.child.write(new TextEncoder().encode("sleep 30; echo finished\n"));
  await term.waitFor(/sleep 30; echo finished\r\n/);
  // Wait until the job owns the terminal, then interrupt it as ^C would.
  for (let i = 0; i < 100 && !/sleep/.test(foregroundCommand(term.child.pid)); i++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  term.child.signalGroup("SIGINT");
  await term.waitFor(/\r?\nP\$ $/);
  await term.child.write(new TextEncoder().encode("exit 6\n"));
  assert.deepEqual(await term.closed(), 6);
  assert.doesNotMatch(term.text, /\nfinished/);
});

/** Command name of the foreground process group's leader of session `sid`'s terminal. */
function foregroundCommand(sid: number): string {
  const stat = Deno.readTextFileSync(`/proc/${sid}/stat`);
  const tpgid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[5]);
  try {
    return Deno.readTextFileSync(`/proc/${tpgid}/comm`).trim();
  } catch {
    return "";
  }
}

Deno.test({
  name: "a signal right after spawn reaches the child",
  timeout: 15_000,
}, async () => {
  for (let i = 0; i < 5; i++) {
    const term = await run(request(["sleep", "30"]));
    term.child.signalGroup("SIGKILL");
    assert.deepEqual(await term.closed(), 137);
  }
});

Deno.test({
  name: "many terminals wait concurrently and each gets its own input",
  timeout: 15_000,
}, async () => {
  const terms = await Promise.all(
    Array.from({ length: 64 }, () => run(request(["sh", "-c", "read line; echo got-$line"]))),
  );
  // Every reader is now parked in the shared poll; answer them in reverse order.
  for (const [i, term] of terms.entries().toArray().reverse()) {
    await term.child.write(new TextEncoder().encode(`${i}\n`));
  }
  for (const [i, term] of terms.entries()) {
    assert.deepEqual(await term.closed(), 0);
    assert.match(term.text, new RegExp(`got-${i}\r\n`));
  }
});

Deno.test({
  name: "pty exit codes: status, and 128+N for signal deaths",
  timeout: 15_000,
}, async () => {
  const cases: [string, number][] = [["exit 7", 7], ["kill -9 $$", 137], ["kill -TERM $$", 143]];
  for (const [script, code] of cases) {
    const term = await run(request(["sh", "-c", script]));
    assert.deepEqual(await term.closed(), code, script);
  }
});

Deno.test({
  name: "closeStdin sends EOF to a canonical-mode reader",
  timeout: 15_000,
}, async () => {
  const term = await run(request(["sh", "-c", "cat; echo cat-done"]));
  await term.child.write(new TextEncoder().encode("hello\n"));
  await term.waitFor(/hello\r\nhello\r\n/);
  await term.child.closeStdin();
  assert.deepEqual(await term.closed(), 0);
  assert.match(term.text, /cat-done/);
});

Deno.test({
  name: "a background job holding the terminal does not delay the end",
  timeout: 15_000,
}, async () => {
  // The job sleeps 30 s, twice the test's deadline: waiting for it cannot pass (no clock).
  const term = await run(request(["sh", "-c", "sleep 30 & echo hi"]));
  assert.deepEqual(await term.closed(), 0);
  assert.deepEqual(term.text, "hi\r\n");
  assert.deepEqual(await survivorsInSession(term.child.pid), []);
});

Deno.test({
  name: "a background job ignoring SIGHUP is killed after the grace period",
  timeout: 15_000,
}, async () => {
  // The job sleeps 30 s, twice the test's deadline: the end cannot wait for it (no clock).
  const term = await run(request(["sh", "-c", "trap '' HUP; sleep 30 & echo hi"]));
  assert.deepEqual(await term.closed(), 0);
  // Killed, not merely detached: nothing of the session is left.
  assert.deepEqual(await survivorsInSession(term.child.pid), []);
});

Deno.test({
  name: "SIGKILL via signalGroup reaches jobs in other process groups of the session",
  timeout: 15_000,
}, async () => {
  // `set -m` gives the background job its own process group, as an interactive shell does.
  const term = await run(request(["sh", "-c", "set -m; sleep 30 & echo job=$!; wait"]));
  const [, job] = await term.waitFor(/job=(\d+)/);
  const jobPgid = Deno.readTextFileSync(`/proc/${job}/stat`).split(") ")[1].split(" ")[2];
  assert.deepEqual(jobPgid, job, "the job leads its own group");
  term.child.signalGroup("SIGKILL");
  assert.deepEqual(await term.closed(), 137);
  assert.deepEqual(await survivorsInSession(term.child.pid), []);
});

Deno.test({
  name: "a 2 MiB write arrives whole",
  timeout: 15_000,
}, async () => {
  const line = "ghijklmnopqrstuvwxyzghijklmnopqrstuvwxyzghijklmnopqrstuvwxyzghi\n"; // 64 bytes
  const data = new TextEncoder().encode(line.repeat(2 * 1024 * 1024 / 64));
  const digest = await crypto.subtle.digest("SHA-256", data);
  const expected = Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0"));
  const term = await run(request(["sh", "-c", `stty -echo; head -c ${data.length} | sha256sum`]));
  const started = performance.now();
  await term.child.write(data);
  assert.deepEqual(await term.closed(), 0);
  assert.match(term.text, new RegExp(`${expected.join("")}  -`));
  console.log(`2 MiB through the pty in ${(performance.now() - started).toFixed(0)} ms`);
});

Deno.test({
  name: "a flooding child keeps flowing while read, and stops cleanly on kill",
  timeout: 15_000,
}, async () => {
  const term = await run(request(["yes"]));
  await term.waitFor(/y\r\n/);
  const startBytes = term.bytes;
  const started = performance.now();
  // Flow, not speed: a stalled reader would never reach 1 MiB (speed is the benchmark's job).
  const deadline = Date.now() + 15_000;
  while (term.bytes - startBytes < 1024 * 1024 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const bytes = term.bytes - startBytes;
  const seconds = (performance.now() - started) / 1000;
  term.child.signalGroup("SIGKILL");
  assert.deepEqual(await term.closed(), 137);
  assert.ok(bytes >= 1024 * 1024, `only ${bytes} bytes in ${seconds.toFixed(1)} s`);
  console.log(`yes: ${(bytes / seconds / 1024 / 1024).toFixed(1)} MiB/s through the pty`);
});

Deno.test({
  name: "pty spawn failures are -32603 with the OS error text",
  timeout: 15_000,
}, async () => {
  const missing = await rejection(() => spawner.spawn(request(["no-such-program-xyz"])));
  assert.ok(missing instanceof RpcError);
  assert.deepEqual([missing.code, missing.message], [
    -32603,
    "No such file or directory (os error 2)",
  ]);
  const badCwd = await rejection(() => spawner.spawn(request(["true"], { cwd: "/nonexist" })));
  assert.ok(badCwd instanceof RpcError);
  assert.deepEqual(badCwd.code, -32603);
});

Deno.test({
  name: "pty spawn latency",
  timeout: 15_000,
}, async () => {
  const samples: number[] = [];
  for (let i = 0; i < 20; i++) {
    const started = performance.now();
    const term = await run(request(["true"]));
    samples.push(performance.now() - started);
    assert.deepEqual(await term.closed(), 0);
  }
  samples.sort((a, b) => a - b);
  console.log(`pty spawn median ${samples[10].toFixed(2)} ms, max ${samples[19].toFixed(2)} ms`);
});
