/**
 * Turns a `process/start` with a `sandbox` into what the spawners start: the plan from the
 * permission profile (lib/sandbox), the program resolved as the spawner would resolve it (so a
 * missing program is still upstream's -32603 spawn error), and the command line wrapped in
 * bubblewrap. The spawners then run it like any other program.
 * @module
 */
import type { SandboxContext, SandboxType } from "../protocol/sandbox.ts";
import { confineArgv } from "../sandbox/confine.ts";
import { enforcement } from "../sandbox/enforcement.ts";
import { planConfinement } from "../sandbox/plan.ts";
import { checkDirectory, resolveProgram } from "./_spawn_checks.ts";
import { withArg0 } from "./pipe_spawner.ts";

/** What `process/start` asked for, after cwd and env resolution. */
export interface CommandRequest {
  argv: string[];
  arg0?: string | null;
  cwd: string;
  env: Record<string, string>;
  tty: boolean;
}

/** The request to spawn and how it is confined. */
export interface SandboxedCommand extends CommandRequest {
  sandboxType: SandboxType;
  /** Present when confined: undo per-launch state after exit. */
  confinement?: { release(): void };
}

/**
 * Applies `sandbox` to `request`. Throws -32602 for a profile that cannot be honoured and -32600
 * when the host cannot confine (unless the server opted into running unconfined).
 *
 * @example
 * ```ts
 * declare const request: CommandRequest;
 * const started = await sandboxCommand(request, null);
 * started.sandboxType; // "linuxSeccomp" when confined
 * ```
 */
export async function sandboxCommand(
  request: CommandRequest,
  sandbox: SandboxContext | null | undefined,
): Promise<SandboxedCommand> {
  // No sandbox asked for (most starts): nothing to plan, no environment to read.
  if (sandbox == null) return { ...request, sandboxType: "none" };
  const plan = planConfinement(sandbox, { cwd: request.cwd, tmpdir: Deno.env.get("TMPDIR") });
  const how = await enforcement(plan);
  if (!how.confined) return { ...request, sandboxType: "none" };
  checkDirectory(request.cwd);
  const path = request.env.PATH;
  let command: string[];
  if (request.tty) {
    // Upstream's PTY path executes arg0 when set (spec §4.1); bwrap execvp's it like setsid.
    const program = request.arg0 ?? request.argv[0];
    const resolved = resolveProgram(program, { cwd: request.cwd, path });
    command = [path === undefined ? resolved : program, ...request.argv.slice(1)];
  } else {
    const resolved = resolveProgram(request.argv[0], { cwd: request.cwd, path });
    const rest = request.argv.slice(1);
    command = request.arg0 != null
      ? [...withArg0(request.arg0, resolved), ...rest]
      : [resolved, ...rest];
  }
  const confined = confineArgv(plan, command, {
    runtime: how.runtime,
    cwd: request.cwd,
    tty: request.tty,
  });
  const networkRestricted = plan.kind === "seccomp" ||
    (plan.kind === "bwrap" && plan.network === "restricted");
  const env = networkRestricted
    ? { CODEX_SANDBOX_NETWORK_DISABLED: "1", ...request.env }
    : request.env;
  return {
    ...request,
    argv: confined.argv,
    arg0: null,
    env,
    sandboxType: "linuxSeccomp",
    confinement: { release: confined.release },
  };
}
