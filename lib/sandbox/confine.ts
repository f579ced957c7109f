/**
 * Wraps a command line so it runs confined: `sh -c 'exec "$@" 3<FILTER' FILTER bwrap ARGS --
 * COMMAND…`. The shell only opens the seccomp program on fd 3 and execs bwrap (same pid), so the
 * spawners need not know about sandboxes: they start one more program, whose process group and
 * session they manage as before.
 * @module
 */
import { internalError } from "../jsonrpc/errors.ts";
import { bwrapArgs } from "./bwrap_args.ts";
import type { ConfinementPlan } from "./plan.ts";
import { FILTER_FD, filterIntact, OPEN_FILTER_SCRIPT, type SandboxRuntime } from "./runtime.ts";
import { type SyntheticTargets, syntheticTargets } from "./synthetic_targets.ts";

/** Options of {@link confineArgv}. */
export interface ConfineOptions {
  /** Native cwd of the command. */
  cwd: string;
  /** True for PTY processes: keep the terminal session (see `BwrapArgsOptions.newSession`). */
  tty: boolean;
  /** Where synthetic mountpoints are counted; default: the server-wide table. */
  targets?: SyntheticTargets;
}

/** A confined command line and what to undo once the command has exited. */
export interface ConfinedArgv {
  /** The command line to start instead of the original. */
  argv: string[];
  /** Removes the empty mountpoints created for this launch (call once, after exit). */
  release(): void;
}

/**
 * The confined command line for `command` under a `bwrap` or `seccomp` plan.
 *
 * @example
 * ```ts
 * import { sandboxRuntime } from "./runtime.ts";
 * import type { ConfinementPlan } from "./plan.ts";
 * declare const plan: ConfinementPlan;
 * const runtime = await sandboxRuntime();
 * if (!("reason" in runtime)) {
 *   const confined = confineArgv(plan, ["/bin/true"], { runtime, cwd: "/work", tty: false });
 *   // spawn confined.argv, then: confined.release();
 * }
 * ```
 */
export function confineArgv(
  plan: ConfinementPlan,
  command: string[],
  options: ConfineOptions & { runtime: SandboxRuntime },
): ConfinedArgv {
  if (plan.kind === "none") return { argv: command, release() {} };
  const { runtime } = options;
  if (!filterIntact(runtime)) {
    throw internalError(
      `the sandbox's seccomp filter file ${runtime.filterPath} was modified or removed; ` +
        "restart the exec-server",
    );
  }
  const targets = options.targets ?? syntheticTargets;
  const masks = plan.kind === "bwrap"
    ? plan.filesystem.mounts.filter((m) => m.kind === "mask").map((m) => m.path)
    : [];
  const lease = targets.acquire(masks);
  const args = bwrapArgs(plan, {
    cwd: options.cwd,
    seccompFd: FILTER_FD,
    // A PTY is the command's own terminal; a pipe command has none, but keep it from getting
    // one of ours. Seccomp-only commands share our namespaces and stay in the process group
    // (no pid namespace would kill their children for us).
    newSession: plan.kind === "bwrap" && !options.tty,
    hide: [runtime.privateDir],
  });
  return {
    argv: [
      runtime.shell,
      "-c",
      OPEN_FILTER_SCRIPT,
      runtime.filterPath,
      runtime.bwrap,
      ...args,
      "--",
      ...command,
    ],
    release: () => lease.release(),
  };
}
