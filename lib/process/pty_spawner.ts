/**
 * The pseudo-terminal backend of {@link Spawner}: Deno FFI on libc for the terminal itself, and
 * one `posix_spawn` (one exec) with `POSIX_SPAWN_SETSID` whose first file action opens the slave
 * on descriptor 0 without `O_NOCTTY`, so the child is a session leader with the slave as its
 * controlling terminal before its program runs (spec §4.1). Linux only; another platform would
 * add its own backend behind the same interface (e.g. a prebuilt node-pty).
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
import { childExit } from "./_child_exit.ts";
import {
  directSpawnAvailable,
  O_RDWR,
  pathMayExist,
  spawnChild,
  SpawnError,
} from "./_posix_spawn.ts";
import { forgetGroup, watchGroup } from "./_reaper.ts";

/** Window size used when `process/start` gives none (spec §4.2). */
export const DEFAULT_PTY_ROWS = 24;
/** Window size used when `process/start` gives none (spec §4.2). */
export const DEFAULT_PTY_COLS = 80;

/** Options of {@link PtySpawner}. */
export interface PtySpawnerOptions {
  /**
   * How long processes that still hold the terminal after the main child exited (background
   * jobs) get between SIGHUP and SIGKILL before the `pty` stream is ended anyway. Default 100.
   */
  hangupGraceMs?: number;
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

  constructor(options: PtySpawnerOptions = {}) {
    this.#graceMs = options.hangupGraceMs ?? 100;
  }

  spawn(request: SpawnRequest): Promise<ChildHandle> {
    return Promise.resolve(this.#start(request));
  }

  #start(request: SpawnRequest): PtyChild {
    const rows = windowDimension(request.rows, DEFAULT_PTY_ROWS, "rows");
    const cols = windowDimension(request.cols, DEFAULT_PTY_COLS, "cols");
    const program = request.arg0 ?? request.argv[0];
    if (program === undefined) throw invalidParams("argv must not be empty");
    checkDirectory(request.cwd);
    const resolved = resolveProgram(program, {
      cwd: request.cwd,
      path: request.env.PATH,
      probe: directSpawnAvailable() ? pathMayExist : undefined,
    });
    // argv[0] as before through execvp: the name as sent when the child has a PATH to search.
    const argv0 = request.env.PATH === undefined ? resolved : program;
    let pair: PtyPair;
    try {
      pair = openPty(rows, cols);
    } catch (error) {
      throw internalError(`failed to open a pseudo-terminal: ${(error as Error).message}`);
    }
    let pid: number;
    try {
      const spec = {
        path: resolved,
        argv: [argv0, ...request.argv.slice(1)],
        env: request.env,
        cwd: request.cwd,
        stdio: [{ path: pair.slavePath, flags: O_RDWR }, { fd: 0 }, { fd: 0 }] as [
          { path: string; flags: number },
          { fd: number },
          { fd: number },
        ],
      };
      try {
        pid = spawnChild(spec);
      } catch (err) {
        // As execvp did: an executable text file without `#!` runs under /bin/sh.
        if (!(err instanceof SpawnError) || err.code !== "ENOEXEC") throw err;
        pid = spawnChild({
          ...spec,
          path: "/bin/sh",
          argv: ["/bin/sh", resolved, ...spec.argv.slice(1)],
        });
      }
    } catch (error) {
      closeFd(pair.master);
      closeFd(pair.slave);
      throw internalError(osErrorMessage(error));
    }
    // The child holds the slave from before its exec: ours can go now, so the master reports
    // hangup as soon as the child's side is closed, in the same poll round as its exit.
    closeFd(pair.slave);
    pair.slave = -1;
    watchGroup(pid);
    const exitCode = childExit(pid).then((code) => {
      forgetGroup(pid);
      return code;
    });
    return new PtyChild(pair, { pid, exitCode }, this.#graceMs);
  }
}
