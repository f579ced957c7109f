/**
 * A server spawned as a child speaking JSON lines on its stdio, in its own process group so that
 * closing it takes its helpers down too (SIGTERM to the group, 2 s, then SIGKILL).
 * @module
 */
import { jsonLinesTransport } from "../transport/json_lines.ts";
import type { MessageTransport } from "../transport/types.ts";
import { settleWithin } from "../util/async.ts";
import { killGroup, setsidPath } from "../util/process_group.ts";
import { ConnectError } from "./errors.ts";

/**
 * Grace period between SIGTERM and SIGKILL (upstream: 2 s).
 *
 * @example
 * ```ts
 * declare const pgid: number;
 * setTimeout(() => Deno.kill(-pgid, "SIGKILL"), STDIO_KILL_GRACE_MS);
 * ```
 */
export const STDIO_KILL_GRACE_MS = 2_000;
const STDERR_TAIL_BYTES = 8 * 1024;

/**
 * A stdio transport that also knows its child's recent stderr.
 *
 * @example
 * ```ts
 * const t: StdioTransport = spawnStdioServer(["codex-exec-server", "serve", "--listen", "stdio"], {});
 * console.error(t.stderrTail());
 * ```
 */
export interface StdioTransport extends MessageTransport {
  /** The last few KiB the server wrote to stderr (empty with `stderr: "inherit"`). */
  stderrTail(): string;
  /** Resolves once the child process group was reaped after `close()` or its own exit. */
  readonly reaped: Promise<void>;
}

/** Signals the child's whole group when it has one (started through `setsid`), else itself. */
function signalChild(pid: number, signal: Deno.Signal, grouped: boolean): void {
  if (grouped) return killGroup(pid, signal);
  try {
    Deno.kill(pid, signal);
  } catch {
    // already gone
  }
}

/**
 * Spawns `argv` with piped stdio and wraps it as a transport.
 *
 * @example
 * ```ts
 * const t = spawnStdioServer(["codex-exec-server", "serve", "--listen", "stdio"], {});
 * t.close();
 * await t.reaped;
 * ```
 */
export function spawnStdioServer(
  argv: string[],
  options: { env?: Record<string, string>; cwd?: string; stderr?: "inherit" | "tail" },
): StdioTransport {
  // `setsid` execs in place (we are never a group leader's child of our own group), so the
  // child pid is also the pgid and signals reach everything the server spawned.
  const setsid = setsidPath();
  const grouped = setsid !== undefined;
  const [program, args] = setsid ? [setsid, argv] : [argv[0], argv.slice(1)];
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(program, {
      args,
      env: options.env,
      cwd: options.cwd,
      stdin: "piped",
      stdout: "piped",
      stderr: options.stderr === "inherit" ? "inherit" : "piped",
    }).spawn();
  } catch (err) {
    throw new ConnectError(
      "spawn_failed",
      argv.join(" "),
      `cannot start stdio command \`${argv.join(" ")}\`: ${(err as Error).message}`,
      { cause: err },
    );
  }
  let tail = new Uint8Array(0);
  const stderrDone = options.stderr === "inherit" ? Promise.resolve() : (async () => {
    for await (const chunk of child.stderr) {
      const joined = new Uint8Array(Math.min(STDERR_TAIL_BYTES, tail.length + chunk.length));
      const all = new Uint8Array(tail.length + chunk.length);
      all.set(tail);
      all.set(chunk, tail.length);
      joined.set(all.subarray(all.length - joined.length));
      tail = joined;
    }
  })().catch(() => {});
  const inner = jsonLinesTransport({
    label: `exec-server stdio \`${argv.join(" ")}\``,
    readable: child.stdout,
    writable: child.stdin,
  });
  let reaping: Promise<void> | null = null;
  const reap = () => {
    reaping ??= (async () => {
      inner.close();
      let exited = false;
      const status = child.status.then(() => {
        exited = true;
      });
      await settleWithin(status, 0);
      if (!exited) {
        signalChild(child.pid, "SIGTERM", grouped);
        await settleWithin(status, STDIO_KILL_GRACE_MS);
      }
      // Helpers the server left behind in its group go too.
      signalChild(child.pid, "SIGKILL", grouped);
      await status;
      await stderrDone;
    })();
    return reaping;
  };
  // A server that exits by itself (or closes stdout) ends the transport; clean up its group.
  inner.closed.then(reap);
  return {
    label: inner.label,
    receive: () => inner.receive(),
    send: (text) => inner.send(text),
    close() {
      reap();
    },
    closed: inner.closed,
    stderrTail: () => new TextDecoder().decode(tail),
    get reaped() {
      return reap();
    },
  };
}
