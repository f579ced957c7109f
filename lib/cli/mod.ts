/**
 * CLI dispatch: `codex-exec-server [serve|remote|rendezvous|exec|fs] ...`.
 * @module
 */
import { VERSION } from "../version.ts";
import { log } from "../util/log.ts";
import { UsageError } from "./_args.ts";
import { runServe, SERVE_USAGE } from "./serve.ts";
import { REMOTE_USAGE, runRemote } from "./remote.ts";
import { RENDEZVOUS_USAGE, runRendezvous } from "./rendezvous.ts";
import { runExec } from "./exec.ts";
import { runFs } from "./fs.ts";
import { FS_HELPER_SUBCOMMAND } from "../fs/sandboxed.ts";

type Command = (args: string[]) => Promise<number>;

const COMMANDS: Record<string, Command> = {
  serve: runServe,
  remote: runRemote,
  rendezvous: runRendezvous,
  exec: runExec,
  fs: runFs,
};

const USAGE = `codex-exec-server ${VERSION}

Usage: codex-exec-server [COMMAND] [options]

Commands:
  serve        serve the exec-server protocol locally (default)
  remote       register with a registry and serve sessions through its rendezvous
  rendezvous   run a registry + rendezvous that remote executors and clients meet at
  exec         run a command on an exec-server (-t for an interactive terminal)
  fs           ls, stat, cat, get, put, rm, mkdir, cp on an exec-server

Run \`codex-exec-server COMMAND --help\` for a command's options.
${SERVE_USAGE}
${REMOTE_USAGE}
${RENDEZVOUS_USAGE}`;

/**
 * Runs the CLI and returns the process exit code.
 *
 * @example
 * ```ts
 * Deno.exit(await runCli(["serve", "--listen", "stdio"]));
 * ```
 */
export async function runCli(args: string[]): Promise<number> {
  if (args[0] === "--version" || args[0] === "-V") {
    console.log(`codex-exec-server ${VERSION}`);
    return 0;
  }
  if (args[0] === "--help" || args[0] === "-h" || args[0] === "help") {
    console.log(USAGE);
    return 0;
  }
  if (args[0] === FS_HELPER_SUBCOMMAND) {
    // The sandboxed-fs helper of a compiled or bundled server (see lib/fs/sandboxed.ts).
    const { serveHelper } = await import("../fs/sandbox_helper.ts");
    await serveHelper();
    return 0;
  }
  const [name, rest] = args.length > 0 && !args[0].startsWith("-")
    ? [args[0], args.slice(1)]
    : ["serve", args];
  const command = COMMANDS[name];
  if (!command) {
    console.error(`error: unknown command \`${name}\`\n\n${USAGE}`);
    return 2;
  }
  try {
    return await command(rest);
  } catch (err) {
    if (
      err instanceof UsageError || (err as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")
    ) {
      console.error(
        `error: ${(err as Error).message}\nRun \`codex-exec-server ${name} --help\` for usage.`,
      );
      return 2;
    }
    log.error(String((err as Error).stack ?? err));
    return 1;
  }
}
