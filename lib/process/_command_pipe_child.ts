/**
 * The pipe backend where `posix_spawn` through FFI is unavailable (not Linux/glibc): children
 * start through `Deno.Command` as `setsid` -> `setpriv --pdeathsig TERM` -> program, so that each
 * leads its own session and process group (upstream's `setpgid(0, 0)` + `killpg`) and gets
 * SIGTERM if the server dies. Also home of {@link withArg0}, which the sandbox path needs.
 * @module
 */
import { internalError } from "../jsonrpc/errors.ts";
import { osErrorMessage } from "../util/os_error.ts";
import { setsidPath } from "../util/process_group.ts";
import { findExecutable } from "./_spawn_checks.ts";
import type { ChildHandle, SpawnRequest } from "./spawner.ts";

const SETSID = setsidPath() ?? "setsid";
// perl's `exec { PROGRAM } LIST` sets argv[0] without touching the environment (bash's
// `exec -a` would export SHLVL); perl-base is essential on Debian, bash is the fallback.
const PERL = findExecutable("perl", "/usr/bin:/bin");
const BASH = findExecutable("bash", "/bin:/usr/bin") ?? "bash";
// Like upstream's PR_SET_PDEATHSIG: the child gets SIGTERM if this server dies without cleanup.
const SETPRIV = findExecutable("setpriv", "/usr/bin:/bin");
const DEATH_SIGNAL = SETPRIV ? [SETPRIV, "--pdeathsig", "TERM", "--"] : [];

/**
 * Starts `request` (cwd checked, program `resolved` already) through `Deno.Command`.
 *
 * @example
 * ```ts
 * const child = commandPipeChild({ argv: ["true"], cwd: "/", env: {}, pipeStdin: false }, "/bin/true");
 * await child.exitCode; // 0
 * ```
 */
export function commandPipeChild(request: SpawnRequest, resolved: string): ChildHandle {
  const rest = request.argv.slice(1);
  const args = request.arg0 != null
    ? [...DEATH_SIGNAL, ...withArg0(request.arg0, resolved), ...rest]
    : [...DEATH_SIGNAL, resolved, ...rest];
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(SETSID, {
      args,
      cwd: request.cwd,
      clearEnv: true,
      env: request.env,
      stdin: request.pipeStdin ? "piped" : "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (err) {
    throw internalError(osErrorMessage(err));
  }
  return pipeChild(child, request.pipeStdin);
}

/**
 * A command line that runs `program` with `arg0` as its argv[0] (perl's `exec { PROGRAM }`, or
 * bash's `exec -a`); the caller appends the remaining arguments.
 *
 * @example
 * ```ts
 * const argv = [...withArg0("-bash", "/bin/bash"), "-c", "echo $0"]; // prints -bash
 * ```
 */
export function withArg0(arg0: string, program: string): string[] {
  if (PERL) {
    return [PERL, "-e", '$p = shift @ARGV; exec { $p } @ARGV or die "$p: $!\\n"', program, arg0];
  }
  return [BASH, "-c", 'exec -a "$0" "$@"', arg0, program];
}

function pipeChild(child: Deno.ChildProcess, pipeStdin: boolean): ChildHandle {
  let reaped = false;
  const exitCode = child.status.then((status) => {
    reaped = true;
    return status.code;
  });
  const writer = pipeStdin ? child.stdin.getWriter() : null;
  // A dead pipe rejects the writer's ready/closed promises; nobody may be awaiting them.
  writer?.closed.catch(() => {});
  return {
    pid: child.pid,
    outputs: [
      { stream: "stdout", readable: child.stdout },
      { stream: "stderr", readable: child.stderr },
    ],
    hasStdin: pipeStdin,
    async write(bytes) {
      if (!writer) throw new Error("stdin is not a pipe");
      await writer.write(bytes);
    },
    async closeStdin() {
      await writer?.close().catch(() => {});
    },
    signalGroup(signal) {
      try {
        Deno.kill(-child.pid, signal);
      } catch {
        // Until `setsid` has run, the child is still in our group and its own group does not
        // exist yet: signal the child itself (nothing has forked from it so far). Never after
        // it was reaped, when the pid may belong to someone else.
        if (!reaped) {
          try {
            Deno.kill(child.pid, signal);
          } catch {
            // gone meanwhile
          }
        }
      }
    },
    exitCode,
  };
}
