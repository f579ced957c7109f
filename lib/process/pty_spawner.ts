/**
 * The pseudo-terminal backend of {@link Spawner}: Deno FFI on libc for the terminal itself and
 * `setsid(1)` so that the child becomes a session leader with the slave as its controlling
 * terminal (spec §4.1). Linux only; another platform would add its own backend behind the same
 * interface (e.g. a prebuilt node-pty).
 *
 * Exit codes follow spec §4.5 with one deliberate choice: a child killed by signal N reports
 * 128+N, as in pipe mode (upstream's portable-pty path reports 1 for every signal death).
 * @module
 */

import { internalError, invalidParams } from "../jsonrpc/errors.ts";
import { osErrorMessage } from "../util/os_error.ts";
import { checkDirectory, resolveProgram } from "./_spawn_checks.ts";
import type { ChildHandle, Spawner, SpawnRequest } from "./spawner.ts";
import { closeFd, openPty, type PtyPair } from "./_libc.ts";
import { PtyChild, windowDimension } from "./_pty_child.ts";
import { setsidPath } from "../util/process_group.ts";

/** Window size used when `process/start` gives none (spec §4.2). */
export const DEFAULT_PTY_ROWS = 24;
/** Window size used when `process/start` gives none (spec §4.2). */
export const DEFAULT_PTY_COLS = 80;

/**
 * Opens the slave as stdin/stdout/stderr, then execs `setsid -w -c` which starts a new session
 * and makes stdin its controlling terminal before exec'ing the program. The shell does not
 * fork, so the pid we get from Deno is the program's pid, its pgid and its session id. `$2` is
 * the requested `PWD` after a `+`, or `-` for none: the shell exports its own `PWD` otherwise,
 * and the child must see exactly the requested environment.
 */
const LAUNCH_SCRIPT = "t=$1 p=$2; shift 2; " +
  "case $p in -) unset PWD ;; *) PWD=${p#+}; export PWD ;; esac; " +
  'exec "$0" -w -c "$@" <>"$t" >&0 2>&0';

/** Options of {@link PtySpawner}. */
export interface PtySpawnerOptions {
  /**
   * How long processes that still hold the terminal after the main child exited (background
   * jobs) get between SIGHUP and SIGKILL before the `pty` stream is ended anyway. Default 100.
   */
  hangupGraceMs?: number;
  /** `setsid(1)` from util-linux. Default: `/usr/bin/setsid` or `/bin/setsid`. */
  setsidPath?: string;
  /** POSIX shell used to set up the child's descriptors. Default `/bin/sh`. */
  shellPath?: string;
}

/**
 * Starts children under a fresh pseudo-terminal. The child gets the slave as controlling
 * terminal and as stdin/stdout/stderr, in its own session (pid = pgid = sid); its output is one
 * `pty` stream. Where the request sets `arg0`, that program is executed instead of `argv[0]`
 * (upstream's PTY behaviour, spec §4.1).
 *
 * Signals from {@link ChildHandle.signalGroup}: SIGINT, SIGQUIT and SIGTSTP go to the
 * terminal's foreground process group, as the keys ^C, ^\ and ^Z would; any other signal goes
 * to every process group of the child's session, so job-control shells lose their background
 * jobs too. `closeStdin` types the terminal's EOF character (^D): the terminal stays writable.
 *
 * @example
 * ```ts
 * const spawner = new PtySpawner();
 * const child = await spawner.spawn({
 *   argv: ["stty", "size"], cwd: "/", env: { PATH: "/usr/bin:/bin" }, pipeStdin: false,
 * });
 * for await (const bytes of child.outputs[0].readable) console.log(new TextDecoder().decode(bytes));
 * console.log(await child.exitCode); // 0, after printing "24 80"
 * ```
 */
export class PtySpawner implements Spawner {
  #graceMs: number;
  #setsidPath: string | undefined;
  #shellPath: string;

  constructor(options: PtySpawnerOptions = {}) {
    this.#graceMs = options.hangupGraceMs ?? 100;
    this.#setsidPath = options.setsidPath;
    this.#shellPath = options.shellPath ?? "/bin/sh";
  }

  async spawn(request: SpawnRequest): Promise<ChildHandle> {
    const child = this.#start(request);
    await child.ready();
    return child;
  }

  #start(request: SpawnRequest): PtyChild {
    const rows = windowDimension(request.rows, DEFAULT_PTY_ROWS, "rows");
    const cols = windowDimension(request.cols, DEFAULT_PTY_COLS, "cols");
    const program = request.arg0 ?? request.argv[0];
    if (program === undefined) throw invalidParams("argv must not be empty");
    checkDirectory(request.cwd);
    const resolved = resolveProgram(program, { cwd: request.cwd, path: request.env.PATH });
    // execvp in setsid searches the child's PATH, as the check above did; without one, run
    // what the check found. A name searched again keeps argv[0] as the client sent it.
    const executable = request.env.PATH === undefined ? resolved : program;
    const setsid = this.#setsidPath ??= locateSetsid();
    let pair: PtyPair;
    try {
      pair = openPty(rows, cols);
    } catch (error) {
      throw internalError(`failed to open a pseudo-terminal: ${(error as Error).message}`);
    }
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command(this.#shellPath, {
        args: [
          "-c",
          LAUNCH_SCRIPT,
          setsid,
          pair.slavePath,
          request.env.PWD === undefined ? "-" : `+${request.env.PWD}`,
          executable,
          ...request.argv.slice(1),
        ],
        cwd: request.cwd,
        env: request.env,
        clearEnv: true,
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).spawn();
    } catch (error) {
      closeFd(pair.master);
      closeFd(pair.slave);
      throw internalError(osErrorMessage(error));
    }
    return new PtyChild(pair, child, this.#graceMs);
  }
}

function locateSetsid(): string {
  const found = setsidPath();
  if (found) return found;
  throw internalError("PTY processes need setsid(1) from util-linux; install util-linux");
}
