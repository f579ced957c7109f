/**
 * `process/start {shellSnapshot}` (capability `shellSnapshotV2`): a login shell's environment,
 * functions and aliases are captured once per `scopeId` (one separate `bash -lc` run) and later
 * commands source that snapshot instead of running the login profile again. The command runs as
 * upstream's does, `bash -pc 'set +o privileged; . /dev/fd/17; <cmd>'`, with the snapshot on an
 * inherited descriptor 17 that the script closes before the command body.
 *
 * Only bash `-lc` commands outside a restricted sandbox use it (a profile is never run outside
 * the confinement a command asked for); anything else, or a failed capture, runs unchanged.
 * @module
 */
import { log } from "../util/log.ts";

/** Scopes remembered per session; the oldest is dropped past this. */
export const MAX_SNAPSHOT_SCOPES = 64;
/** How long a capture may take before the command runs without a snapshot. */
export const CAPTURE_TIMEOUT_MS = 10_000;
/** Largest snapshot kept (a profile exporting more runs every time instead). */
const MAX_SNAPSHOT_BYTES = 4 * 1024 * 1024;

// Variables the shell owns or that describe the capture process, not the user's setup.
const SKIP = [
  "PWD",
  "OLDPWD",
  "SHLVL",
  "_",
  "BASHOPTS",
  "SHELLOPTS",
  "BASH_VERSINFO",
  "EUID",
  "PPID",
  "UID",
  "GROUPS",
  "BASHPID",
  "RANDOM",
  "SECONDS",
  "LINENO",
  "HISTCMD",
  "SRANDOM",
  "EPOCHREALTIME",
  "EPOCHSECONDS",
  "BASH_ARGV0",
  "COLUMNS",
  "LINES",
].join("|");

// Printed by the capturing login shell: exported variables (`%q` keeps any value on one line),
// functions, aliases, and expand_aliases so the aliases work in the non-interactive command.
const CAPTURE_SCRIPT = `
for __v in $(compgen -e); do
  case "$__v" in ${SKIP}) continue ;; esac
  printf 'export %s=%q\\n' "$__v" "\${!__v}"
done
declare -f
alias -p
printf 'shopt -s expand_aliases\\n'
`;

/** The `shellSnapshot` member of `process/start`. */
export interface ShellSnapshotRequest {
  scopeId: string;
  shell: { name: string; path: string };
}

/** What the command would run with. */
export interface SnapshotContext {
  env: Record<string, string>;
  cwd: string;
}

function restoreScript(command: string): string {
  return "set +o privileged\n" +
    "if ! . /dev/fd/17 >/dev/null; then printf 'failed to restore shell snapshot\\n' >&2; fi\n" +
    "exec 17<&-\n" + command;
}

/**
 * One session's snapshots: a private folder of snapshot files, removed when the session ends.
 *
 * @example
 * ```ts
 * declare const request: ShellSnapshotRequest;
 * declare const context: SnapshotContext;
 * using snapshots = new ShellSnapshots();
 * const argv = await snapshots.rewrite(["/bin/bash", "-lc", "ls"], request, context);
 * ```
 */
export class ShellSnapshots implements Disposable {
  #dir: string | null = null;
  #scopes = new Map<string, Promise<string | null>>();
  #disposed = false;
  #counter = 0;

  /**
   * The argv to run: `argv` itself, or the snapshot-sourcing form when `argv` is
   * `[<bash>, "-lc", cmd]` for the snapshot's shell and a snapshot exists (captured now if this
   * is the scope's first command).
   */
  async rewrite(
    argv: string[],
    request: ShellSnapshotRequest | null | undefined,
    context: SnapshotContext,
  ): Promise<string[]> {
    if (!request || argv.length !== 3 || argv[1] !== "-lc") return argv;
    const shell = argv[0];
    if (request.shell.name !== "bash" || !/(^|\/)bash$/.test(shell)) return argv;
    if (request.shell.path !== shell) return argv;
    const file = await this.#snapshot(`${shell}\0${request.scopeId}`, shell, context);
    if (file === null) return argv;
    // A plain (non-login) bash opens the snapshot as fd 17 and execs the command's bash, which
    // inherits it (dash cannot redirect descriptors above 9).
    return [
      shell,
      "-c",
      'exec 17<"$0" && exec "$@"',
      file,
      shell,
      "-pc",
      restoreScript(argv[2]),
    ];
  }

  #snapshot(key: string, shell: string, context: SnapshotContext): Promise<string | null> {
    let entry = this.#scopes.get(key);
    if (entry) {
      // Refresh its place: the least recently used scope is the one dropped.
      this.#scopes.delete(key);
      this.#scopes.set(key, entry);
      return entry;
    }
    entry = this.#capture(shell, context).catch((err) => {
      log.debug(`shell snapshot capture failed: ${String(err)}`);
      return null;
    });
    this.#scopes.set(key, entry);
    while (this.#scopes.size > MAX_SNAPSHOT_SCOPES) {
      const [oldest, file] = this.#scopes.entries().next().value!;
      this.#scopes.delete(oldest);
      file.then((path) => {
        if (path) Deno.remove(path).catch(() => {});
      });
    }
    return entry;
  }

  async #capture(shell: string, context: SnapshotContext): Promise<string | null> {
    const child = new Deno.Command(shell, {
      args: ["-lc", CAPTURE_SCRIPT],
      cwd: context.cwd,
      env: context.env,
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const timer = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch {
        // already gone
      }
    }, CAPTURE_TIMEOUT_MS);
    const out = await child.output().finally(() => clearTimeout(timer));
    if (!out.success || out.stdout.length > MAX_SNAPSHOT_BYTES || this.#disposed) return null;
    this.#dir ??= await Deno.makeTempDir({ prefix: "codex-exec-server-snapshots-" });
    const path = `${this.#dir}/${++this.#counter}.sh`;
    await Deno.writeFile(path, out.stdout, { mode: 0o600 });
    if (this.#disposed) {
      await Deno.remove(path).catch(() => {});
      return null;
    }
    return path;
  }

  /** Removes the snapshot files. */
  [Symbol.dispose](): void {
    this.#disposed = true;
    this.#scopes.clear();
    if (this.#dir) {
      try {
        Deno.removeSync(this.#dir, { recursive: true });
      } catch {
        // already gone
      }
    }
  }
}
