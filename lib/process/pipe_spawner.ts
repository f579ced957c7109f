/**
 * Starts children with plain pipes, each in a new session and process group, so signals and
 * kills reach the whole group as with upstream's `setpgid(0, 0)` + `killpg`. On Linux a child
 * costs one exec: `posix_spawn` through FFI with `POSIX_SPAWN_SETSID`, the pipe ends dup2'ed onto
 * 0, 1 and 2, argv[0] set directly (arg0). Its pipes are read and written through nonblocking
 * descriptors and the shared poller thread, its exit arrives as SIGCHLD, and the reaper's
 * watchdog (not `PR_SET_PDEATHSIG`, which `posix_spawn` cannot set) kills its group if the server
 * dies first.
 * @module
 */
import { internalError } from "../jsonrpc/errors.ts";
import { osErrorMessage } from "../util/os_error.ts";
import { killGroup } from "../util/process_group.ts";
import { checkDirectory, resolveProgram } from "./_spawn_checks.ts";
import { commandPipeChild } from "./_command_pipe_child.ts";
import { childExit } from "./_child_exit.ts";
import { fdReadable, FdWriter } from "./_fd_stream.ts";
import {
  closeDescriptor,
  directSpawnAvailable,
  makePipe,
  O_RDONLY,
  pathMayExist,
  setNonblocking,
  spawnChild,
  SpawnError,
  type StdioAction,
} from "./_posix_spawn.ts";
import { forgetGroup, watchGroup } from "./_reaper.ts";
import type { ChildHandle, Spawner, SpawnRequest } from "./spawner.ts";

export { withArg0 } from "./_command_pipe_child.ts";

/**
 * The pipe-mode backend.
 *
 * @example
 * ```ts
 * const child = await new PipeSpawner().spawn({ argv: ["true"], cwd: "/", env: {}, pipeStdin: false });
 * await child.exitCode; // 0
 * ```
 */
export class PipeSpawner implements Spawner {
  /** Found on the first spawn: loading libc through FFI costs start-up time otherwise. */
  #direct: boolean | undefined;

  spawn(request: SpawnRequest): Promise<ChildHandle> {
    checkDirectory(request.cwd);
    this.#direct ??= directSpawnAvailable();
    const resolved = resolveProgram(request.argv[0], {
      cwd: request.cwd,
      path: request.env.PATH,
      probe: this.#direct ? pathMayExist : undefined,
    });
    if (!this.#direct) return Promise.resolve(commandPipeChild(request, resolved));
    return Promise.resolve(directPipeChild(request, resolved));
  }
}

function directPipeChild(request: SpawnRequest, resolved: string): ChildHandle {
  const ours: number[] = [];
  const theirs: number[] = [];
  /** A pipe whose one end goes to the child: returns our end. */
  const pipe = (childReads: boolean): number => {
    const [read, write] = makePipe();
    ours.push(childReads ? write : read);
    theirs.push(childReads ? read : write);
    return ours[ours.length - 1];
  };
  let pid: number;
  let stdoutFd: number, stderrFd: number, stdinFd = -1;
  /** The child's ends of stdout and stderr, kept until its exit is seen (see below). */
  let held: number[] = [];
  try {
    stdoutFd = pipe(false);
    stderrFd = pipe(false);
    if (request.pipeStdin) stdinFd = pipe(true);
    const [outChild, errChild, inChild] = theirs;
    const stdio: [StdioAction, StdioAction, StdioAction] = [
      request.pipeStdin ? { fd: inChild } : { path: "/dev/null", flags: O_RDONLY },
      { fd: outChild },
      { fd: errChild },
    ];
    // As through setsid's execvp before: argv[0] is the resolved path unless arg0 is given.
    const argv = [request.arg0 ?? resolved, ...request.argv.slice(1)];
    pid = spawnWithScriptFallback(resolved, argv, request, stdio);
    for (const fd of ours) setNonblocking(fd);
    // Like the PTY's slave: holding the write ends means the child's exit does not hang the
    // pipes up, so the poller thread is not woken (and does not wake us) for it; the exit
    // arrives once, as SIGCHLD, and the reads right after it find EOF. The hop through that
    // thread at every exit made a pipe child slower than a PTY one (spawn_pipe line).
    held = [outChild, errChild];
  } catch (err) {
    for (const fd of ours) closeDescriptor(fd);
    throw internalError(osErrorMessage(err));
  } finally {
    // The child has its own copies now (or there is no child).
    for (const fd of theirs) if (!held.includes(fd)) closeDescriptor(fd);
  }
  watchGroup(pid);
  const exitCode = childExit(pid).then((code) => {
    forgetGroup(pid);
    // Before the streams' recheck reads: from now on EOF means every other writer is gone.
    for (const fd of held) closeDescriptor(fd);
    return code;
  });
  const recheck = { recheck: exitCode };
  const writer = request.pipeStdin ? new FdWriter(stdinFd) : null;
  return {
    pid,
    outputs: [
      { stream: "stdout", readable: fdReadable(stdoutFd, recheck) },
      { stream: "stderr", readable: fdReadable(stderrFd, recheck) },
    ],
    hasStdin: request.pipeStdin,
    async write(bytes) {
      if (!writer) throw new Error("stdin is not a pipe");
      await writer.write(bytes);
    },
    async closeStdin() {
      await writer?.close();
    },
    signalGroup(signal) {
      // The group exists from the start (setsid ran before exec) and may outlive its leader;
      // its id cannot be reused while any member is left, so signalling it stays safe.
      killGroup(pid, signal);
    },
    exitCode,
  };
}

/**
 * `posix_spawn` has no shell fallback: an executable text file without `#!` fails with
 * ENOEXEC, which `execvp` (and so every launch before this one) ran with `/bin/sh`.
 */
function spawnWithScriptFallback(
  path: string,
  argv: string[],
  request: SpawnRequest,
  stdio: [StdioAction, StdioAction, StdioAction],
): number {
  const spec = { path, argv, env: request.env, cwd: request.cwd, stdio };
  try {
    return spawnChild(spec);
  } catch (err) {
    if (!(err instanceof SpawnError) || err.code !== "ENOEXEC") throw err;
    return spawnChild({ ...spec, path: "/bin/sh", argv: ["/bin/sh", path, ...argv.slice(1)] });
  }
}
