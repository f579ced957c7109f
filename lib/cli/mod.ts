/**
 * CLI dispatch: `codex-exec-server [serve|remote|rendezvous|exec|fs] ...`.
 * @module
 */
import { VERSION } from "../version.ts";
import { log, setDefaultLogLevel } from "../util/log.ts";
import { CliError, UsageError } from "./_args.ts";
import { didYouMean } from "./_suggest.ts";
import { FS_HELPER_SUBCOMMAND } from "../fs/helper_subcommand.ts";

type Command = (args: string[]) => Promise<number>;

/**
 * Each subcommand's module, imported when it runs: `serve` then never loads the relay,
 * rendezvous, NATS, Noise or client code (from source that was ~10 MiB of resident memory).
 */
const COMMANDS: Record<string, () => Promise<{ run: Command; usage: string }>> = {
  serve: async () => {
    const m = await import("./serve.ts");
    return { run: m.runServe, usage: m.SERVE_USAGE };
  },
  remote: async () => {
    const m = await import("./remote.ts");
    return { run: m.runRemote, usage: m.REMOTE_USAGE };
  },
  rendezvous: async () => {
    const m = await import("./rendezvous.ts");
    return { run: m.runRendezvous, usage: m.RENDEZVOUS_USAGE };
  },
  exec: async () => {
    const m = await import("./exec.ts");
    return { run: m.runExec, usage: m.EXEC_USAGE };
  },
  fs: async () => {
    const m = await import("./fs.ts");
    return { run: m.runFs, usage: m.FS_USAGE };
  },
};

async function usage(): Promise<string> {
  const [serve, remote, rendezvous] = await Promise.all(
    ["serve", "remote", "rendezvous"].map((name) => COMMANDS[name]()),
  );
  return `codex-exec-server ${VERSION}

Usage: codex-exec-server [COMMAND] [options]

Commands:
  serve        serve the exec-server protocol locally (default)
  remote       register with a registry and serve sessions through its rendezvous
  rendezvous   run a registry + rendezvous that remote executors and clients meet at
  exec         run a command on an exec-server (-t for an interactive terminal)
  fs           ls, stat, cat, get, put, rm, mkdir, cp on an exec-server

Run \`codex-exec-server COMMAND --help\` for a command's options.
${serve.usage}
${remote.usage}
${rendezvous.usage}`;
}

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
    const topic = args[0] === "help" ? args[1] : undefined;
    if (topic !== undefined && !(topic in COMMANDS)) return unknownCommand(topic);
    console.log(topic === undefined ? await usage() : (await COMMANDS[topic]()).usage);
    return 0;
  }
  if (args[0] === FS_HELPER_SUBCOMMAND) {
    // The sandboxed-fs helper of a compiled or bundled server (see lib/fs/sandboxed.ts).
    const { serveHelper } = await import("../fs/sandbox_helper.ts");
    await serveHelper();
    return 0;
  }
  let [name, rest] = args.length > 0 && !args[0].startsWith("-")
    ? [args[0], args.slice(1)]
    : ["serve", args];
  const load = COMMANDS[name];
  if (!load) return unknownCommand(name);
  const ownArgs = rest.includes("--") ? rest.slice(0, rest.indexOf("--")) : rest;
  if (ownArgs.includes("--version") || ownArgs.includes("-V")) {
    console.log(`codex-exec-server ${VERSION}`);
    return 0;
  }
  if (name === "exec" || name === "fs") setDefaultLogLevel("off");
  // `deno task remote -- --remote URL ...` hands us the `--`; these commands take no operands.
  if (rest[0] === "--" && NO_OPERANDS.has(name)) rest = rest.slice(1);
  try {
    return await (await load()).run(rest);
  } catch (err) {
    if (
      err instanceof UsageError || (err as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")
    ) {
      console.error(
        `error: ${(err as Error).message}\nRun \`codex-exec-server ${name} --help\` for usage.`,
      );
      return 2;
    }
    if (err instanceof CliError) {
      console.error(`error: ${err.message}`);
      return 1;
    }
    if (isOsError(err)) {
      // A user can cause these (a path, a permission, a port): one line, not a stack trace.
      console.error(`error: ${(err as Error).message}`);
      return 1;
    }
    log.error(String((err as Error).stack ?? err));
    return 1;
  }
}

const NO_OPERANDS = new Set(["serve", "remote", "rendezvous"]);

function unknownCommand(name: string): number {
  console.error(
    `error: unknown command \`${name}\`${didYouMean(name, Object.keys(COMMANDS))}\n` +
      `Commands: ${Object.keys(COMMANDS).join(", ")}. Run \`codex-exec-server --help\` for more.`,
  );
  return 2;
}

function isOsError(err: unknown): boolean {
  return Object.values(Deno.errors).some((kind) =>
    kind !== Deno.errors.Interrupted && err instanceof kind
  );
}
