/**
 * Every descendant dies with the server, however the server dies (even `kill -9`), and whatever
 * the descendant does (ignores SIGTERM/SIGHUP, leaves its process group, calls `setsid`).
 *
 * Before its first child, the server creates a cgroup of its own (cgroup v2, else the v1
 * `freezer`, else the v1 `pids` hierarchy), starts a watchdog outside it, and moves itself in.
 * Every process forked from then on, by the server or any descendant, is born in that cgroup
 * and cannot leave it without privileges. The watchdog blocks reading a pipe only the server
 * holds; when the server is gone (EOF), it freezes the cgroup (v1 freezer) or uses `cgroup.kill`
 * (v2), SIGKILLs every member until none is left, and removes the cgroup. The spawn path itself
 * is unchanged, so spawning costs nothing extra.
 *
 * Without a writable cgroup hierarchy (unprivileged, read-only `/sys/fs/cgroup`, or
 * `CODEX_EXEC_SERVER_REAPER=off`) the same watchdog runs without a cgroup and learns each
 * child's process group instead ({@linkcode watchGroup}, one line on its pipe): at EOF it sends
 * SIGTERM to every group still listed and SIGKILL half a second later. That covers each child
 * and whatever stays in its group (what `PR_SET_PDEATHSIG`, upstream's guarantee, gives the
 * child alone), not what left the group.
 * @module
 */
import { log } from "../util/log.ts";
import { findExecutable } from "./_spawn_checks.ts";

// In a session of its own, the watchdog is out of reach of a kill aimed at the server's process
// group (a client's `--stdio-command` teardown, a terminal's ^C): it must outlive the server.
const SETSID = findExecutable("setsid", "/usr/bin:/bin");

// The watchdog: ignores the signals a terminal or a process-group kill would send it, keeps the
// list of process groups the server reports ("+ PGID" / "- PGID" lines) until EOF on stdin,
// then signals those groups and empties the cgroup and every cgroup below it (a server started
// by one of our commands nests its own cgroup in ours, and must not survive us either). `$1` is
// the cgroup directory, empty for none.
const WATCHDOG = `trap '' INT TERM HUP QUIT PIPE
cg=$1
groups=" "
while read -r op pg; do
  case $op$groups in
  "+"*) groups="$groups$pg " ;;
  "-"*" $pg "*) groups="\${groups%% $pg *} \${groups#* $pg }" ;;
  esac
done
for pg in $groups; do kill -TERM -$pg 2>/dev/null; done
if [ -n "$cg" ]; then
  [ -e "$cg/freezer.state" ] && echo FROZEN > "$cg/freezer.state"
  [ -e "$cg/cgroup.kill" ] && echo 1 > "$cg/cgroup.kill"
  i=0
  while [ $i -lt 400 ]; do
    pids=$(find "$cg" -name cgroup.procs -exec cat {} + 2>/dev/null)
    [ -z "$pids" ] && break
    kill -9 $pids 2>/dev/null
    [ -e "$cg/freezer.state" ] && echo THAWED > "$cg/freezer.state"
    sleep 0.025
    i=$((i+1))
  done
  find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null
elif [ "$groups" != " " ]; then
  sleep 0.5
  for pg in $groups; do kill -KILL -$pg 2>/dev/null; done
fi
exit 0`;

/** What {@linkcode ensureReaper} set up. */
export interface ReaperStatus {
  /** Whether every descendant is guaranteed to die with the server (the cgroup is in place). */
  active: boolean;
  /** Whether the watchdog runs without a cgroup and must learn each child's group. */
  watchesGroups: boolean;
  /** The cgroup holding the server and its descendants (when active). */
  cgroup?: string;
  /** Why the reaper is not active (when not). */
  reason?: string;
}

let status: ReaperStatus | undefined;
// Held open, never written: the watchdog's EOF is the server's death.
let watchdogStdin: WritableStreamDefaultWriter<Uint8Array> | undefined;

/**
 * Sets the reaper up once (later calls return the first answer). Synchronous, so it completes
 * before the spawn that calls it forks.
 *
 * @example
 * ```ts
 * const { active, reason } = ensureReaper();
 * if (!active) console.warn(`descendants may outlive the server: ${reason}`);
 * ```
 */
export function ensureReaper(): ReaperStatus {
  if (status) return status;
  try {
    status = setUp();
  } catch (err) {
    status = { active: false, watchesGroups: false, reason: (err as Error).message };
  }
  if (!status.active && Deno.build.os === "linux") {
    status.watchesGroups = startWatchdog("") !== undefined;
  }
  if (status.active) log.debug(`reaper: server and descendants in ${status.cgroup}`);
  else log.debug(`reaper unavailable: ${status.reason}`);
  return status;
}

function setUp(): ReaperStatus {
  if (Deno.build.os !== "linux") {
    return { active: false, watchesGroups: false, reason: "cgroups are Linux only" };
  }
  if (Deno.env.get("CODEX_EXEC_SERVER_REAPER") === "off") {
    return { active: false, watchesGroups: false, reason: "CODEX_EXEC_SERVER_REAPER=off" };
  }
  const reasons: string[] = [];
  for (const candidate of candidateParents()) {
    const cgroup = `${candidate}/codex-exec-server.${Deno.pid}`;
    try {
      Deno.mkdirSync(cgroup);
    } catch (err) {
      reasons.push(`${candidate}: ${(err as Error).message}`);
      continue;
    }
    let watchdog: Deno.ChildProcess | undefined;
    try {
      watchdog = startWatchdog(cgroup);
      if (!watchdog) throw new Error("the watchdog did not start");
      Deno.writeTextFileSync(`${cgroup}/cgroup.procs`, `${Deno.pid}\n`);
      return { active: true, watchesGroups: false, cgroup };
    } catch (err) {
      reasons.push(`${cgroup}: ${(err as Error).message}`);
      try {
        watchdog?.kill("SIGKILL");
      } catch {
        // already gone
      }
      watchdogStdin = undefined;
      try {
        Deno.removeSync(cgroup);
      } catch {
        // the watchdog may have removed it
      }
    }
  }
  return {
    active: false,
    watchesGroups: false,
    reason: reasons.join("; ") || "no cgroup hierarchy is mounted",
  };
}

function startWatchdog(cgroup: string): Deno.ChildProcess | undefined {
  try {
    const argv = ["/bin/sh", "-c", WATCHDOG, "sh", cgroup];
    if (SETSID) argv.unshift(SETSID);
    const watchdog = new Deno.Command(argv[0], {
      args: argv.slice(1),
      stdin: "piped",
      stdout: "null",
      stderr: "null",
    }).spawn();
    watchdog.unref();
    watchdogStdin = watchdog.stdin.getWriter();
    watchdogStdin.closed.catch(() => {});
    return watchdog;
  } catch (err) {
    log.debug(`watchdog did not start: ${(err as Error).message}`);
    return undefined;
  }
}

const encoder = new TextEncoder();

function tell(line: string): void {
  watchdogStdin?.write(encoder.encode(line)).catch(() => {});
}

/**
 * Lists process group `pgid` with the watchdog, which kills it if the server dies first. A
 * no-op when the cgroup already guarantees it (or nothing watches). Call
 * {@linkcode forgetGroup} once its leader is reaped, before the id can be reused.
 *
 * @example
 * ```ts
 * declare const pid: number;
 * watchGroup(pid);
 * ```
 */
export function watchGroup(pgid: number): void {
  if (status?.watchesGroups) tell(`+ ${pgid}\n`);
}

/**
 * Takes `pgid` off the watchdog's list (its leader was reaped).
 *
 * @example
 * ```ts
 * declare const pid: number;
 * forgetGroup(pid);
 * ```
 */
export function forgetGroup(pgid: number): void {
  if (status?.watchesGroups) tell(`- ${pgid}\n`);
}

/** Our current cgroup directory in each usable hierarchy, best first: v2, v1 freezer, v1 pids. */
function candidateParents(): string[] {
  const mounts = Deno.readTextFileSync("/proc/self/mountinfo").split("\n");
  const membership = Deno.readTextFileSync("/proc/self/cgroup").split("\n");
  const v2: string[] = [], freezer: string[] = [], pids: string[] = [];
  for (const line of mounts) {
    const [left, right] = line.split(" - ");
    if (!right) continue;
    const mountPoint = left.split(" ")[4];
    const [fstype, , superOptions = ""] = right.split(" ");
    const options = superOptions.split(",");
    if (fstype === "cgroup2") {
      const path = membership.find((m) => m.startsWith("0::"))?.slice(3);
      if (path !== undefined) v2.push(join(mountPoint, path));
    } else if (fstype === "cgroup") {
      for (const [controller, list] of [["freezer", freezer], ["pids", pids]] as const) {
        if (!options.includes(controller)) continue;
        const entry = membership.find((m) => m.split(":")[1]?.split(",").includes(controller));
        if (entry !== undefined) list.push(join(mountPoint, entry.split(":").slice(2).join(":")));
      }
    }
  }
  return [...v2, ...freezer, ...pids];
}

function join(mountPoint: string, path: string): string {
  return path === "/" ? mountPoint : `${mountPoint}${path}`;
}
