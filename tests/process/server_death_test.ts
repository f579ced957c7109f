/**
 * After `kill -9` of the server every descendant dies (issue 12, "Processes"): background jobs of
 * pipe children, processes that ignore SIGTERM/SIGHUP, processes that called `setsid`, in pipe
 * and PTY mode.
 */
import assert from "node:assert/strict";
import { fileUri, isAlive, readToClose, startServer, TestClient, until } from "../_harness.ts";

const ENV = { PATH: "/usr/local/bin:/usr/bin:/bin" };

// Each command prints the pids of what it leaves behind, one per line, then "ready", and keeps
// running. `setsid` execs (a background job is no group leader), so `$!` is the escaped pid.
const SCRIPT = `
sleep 300 & echo $!
sh -c 'trap "" TERM HUP INT; while :; do sleep 1; done' & echo $!
setsid sh -c 'trap "" TERM HUP; exec sleep 300' & echo $!
sh -c 'setsid sleep 300 & echo $!; exit 0'
echo ready
trap "" TERM HUP
exec sleep 300
`;

async function pidsOf(client: TestClient, processId: string): Promise<number[]> {
  let text = "";
  let afterSeq = 0;
  const deadline = Date.now() + 10_000;
  while (!text.includes("ready")) {
    assert(Date.now() < deadline, `${processId} never printed ready: ${text}`);
    const r = await client.call("process/read", { processId, afterSeq, waitMs: 1000 });
    for (const c of r.chunks as { chunk: string }[]) text += atob(c.chunk);
    afterSeq = (r.nextSeq as number) - 1;
  }
  return text.split(/\r?\n/).filter((l) => /^\d+$/.test(l.trim())).map(Number);
}

/** Starts `script` under `/bin/sh -c` and returns the pids it printed before `ready`. */
async function startScript(
  client: TestClient,
  processId: string,
  script: string,
  tty: boolean,
): Promise<number[]> {
  await client.call("process/start", {
    processId,
    argv: ["/bin/sh", "-c", script],
    cwd: fileUri("/tmp"),
    env: ENV,
    tty,
  });
  return await pidsOf(client, processId);
}

/** SIGKILLs whatever of `pids` is still alive, so a failed test leaves nothing behind. */
function killLeftovers(pids: number[]): void {
  for (const pid of pids) {
    try {
      Deno.kill(pid, "SIGKILL");
    } catch {
      // dead, as it should be
    }
  }
}

function reaperActive(): boolean {
  // The reaper needs a writable cgroup hierarchy; probe the way the server will.
  for (const dir of ["/sys/fs/cgroup/freezer", "/sys/fs/cgroup/pids", "/sys/fs/cgroup"]) {
    try {
      Deno.mkdirSync(`${dir}/codex-exec-server-probe.${Deno.pid}`);
      Deno.removeSync(`${dir}/codex-exec-server-probe.${Deno.pid}`);
      return true;
    } catch {
      // next
    }
  }
  return false;
}

Deno.test({
  name: "kill -9 of the server kills every descendant (background, TERM-proof, setsid; pipe + pty)",
  ignore: Deno.build.os !== "linux" || !reaperActive(),
  timeout: 30_000,
  async fn() {
    const server = await startServer();
    const client = await TestClient.connect(server.url);
    await client.initialize();
    const pids: number[] = [];
    try {
      for (const tty of [false, true]) {
        const processId = `tree-${tty}`;
        pids.push(...await startScript(client, processId, SCRIPT, tty));
      }
      assert.equal(pids.length, 8, `expected 4 escaped pids per process, got ${pids}`);
      for (const pid of pids) assert(isAlive(pid), `${pid} should be running before the kill`);
      await server.stop("SIGKILL");
      const killedAt = performance.now();
      await until(5000, "every descendant dead", () => pids.every((pid) => !isAlive(pid)));
      console.log(
        `all ${pids.length} descendants dead ${(performance.now() - killedAt).toFixed(0)} ms ` +
          "after kill -9 of the server",
      );
    } finally {
      killLeftovers(pids);
      await client.close().catch(() => {});
      await server.stop();
    }
  },
});

// A server started by one of our commands nests its own cgroup inside ours: moving into a child
// cgroup must not be a way out.
const NESTED = `
line=$(grep codex-exec-server /proc/self/cgroup | head -n 1)
controller=$(echo "$line" | cut -d: -f2)
path=$(echo "$line" | cut -d: -f3-)
root=/sys/fs/cgroup/$controller
[ -z "$controller" ] && root=/sys/fs/cgroup/unified && [ ! -d $root ] && root=/sys/fs/cgroup
mkdir "$root$path/nested.$$" && echo $$ > "$root$path/nested.$$/cgroup.procs" || exit 9
setsid sleep 300 & echo $!
echo ready
exec sleep 300
`;

Deno.test({
  name: "kill -9 of the server also kills what moved into a cgroup nested in its own",
  ignore: Deno.build.os !== "linux" || !reaperActive(),
  timeout: 30_000,
  async fn() {
    const server = await startServer();
    const client = await TestClient.connect(server.url);
    await client.initialize();
    const pids: number[] = [];
    try {
      pids.push(...await startScript(client, "nested", NESTED, false));
      assert.equal(pids.length, 1);
      assert(isAlive(pids[0]));
      await server.stop("SIGKILL");
      await until(5000, "the nested cgroup's process dead", () => !isAlive(pids[0]));
    } finally {
      killLeftovers(pids);
      await client.close().catch(() => {});
      await server.stop();
    }
  },
});

Deno.test({
  name: "inside the reaper cgroup a child still runs, prints and exits with its code",
  ignore: Deno.build.os !== "linux" || !reaperActive(),
  timeout: 30_000,
  async fn() {
    await using server = await startServer();
    await using client = await TestClient.connect(server.url);
    await client.initialize();
    await client.call("process/start", {
      processId: "quick",
      argv: ["/bin/sh", "-c", "echo hi; exit 3"],
      cwd: fileUri("/tmp"),
      env: ENV,
      tty: false,
    });
    const { output, exitCode } = await readToClose(client, "quick");
    assert.equal(output, "hi\n");
    assert.equal(exitCode, 3);
  },
});

// Without the cgroup (CODEX_EXEC_SERVER_REAPER=off stands in for a host without a writable
// hierarchy), the watchdog still knows every child's process group: each child and what stays
// in its group dies with the server, even when it ignores SIGTERM (upstream's PR_SET_PDEATHSIG
// reaches the child alone, and only with SIGTERM).
const GROUP_SCRIPT = `
sleep 300 & echo $!
sh -c 'trap "" TERM HUP INT; while :; do sleep 1; done' & echo $!
echo $$
echo ready
trap "" TERM HUP
while :; do sleep 1; done
`;

Deno.test({
  name: "without the cgroup, kill -9 of the server still kills each child's process group",
  ignore: Deno.build.os !== "linux",
  timeout: 30_000,
  async fn() {
    const server = await startServer({ env: { CODEX_EXEC_SERVER_REAPER: "off" } });
    const client = await TestClient.connect(server.url);
    await client.initialize();
    const pids: number[] = [];
    try {
      for (const tty of [false, true]) {
        const processId = `group-${tty}`;
        pids.push(...await startScript(client, processId, GROUP_SCRIPT, tty));
      }
      assert.equal(pids.length, 6, `expected 3 pids per process, got ${pids}`);
      for (const pid of pids) assert(isAlive(pid), `${pid} should be running before the kill`);
      await server.stop("SIGKILL");
      await until(5000, "every group member dead", () => pids.every((pid) => !isAlive(pid)))
        .catch((err) => {
          throw new Error(`${err.message}; alive of ${pids}: ${pids.filter(isAlive)}`);
        });
    } finally {
      killLeftovers(pids);
      await client.close().catch(() => {});
      await server.stop();
    }
  },
});
