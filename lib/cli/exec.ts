/**
 * `exec`: run one command on an exec-server, like `ssh host CMD` / `kubectl exec`: stdout and
 * stderr forwarded, stdin streamed, the remote exit code returned; `-t` for an interactive PTY.
 * @module
 */
import { Method } from "../protocol/methods.ts";
import { parseArgs } from "node:util";
import { type ExecProcess, type ExecServerClient, RemoteCallError } from "../client/mod.ts";
import { UsageError } from "./_args.ts";
import {
  connectWithFlags,
  describeClientError,
  notice,
  TARGET_OPTIONS,
  TARGET_USAGE,
} from "./_target.ts";
import { enterRawMode, terminalSize, writeAll } from "./_terminal.ts";

/**
 * Help text of `exec`.
 *
 * @example
 * ```ts
 * console.log(EXEC_USAGE);
 * ```
 */
export const EXEC_USAGE = `Usage: codex-exec-server exec [options] -- PROGRAM [ARGS...]

Runs PROGRAM on an exec-server and exits with its exit code (128+N when it died of signal N;
255 when the client itself failed). stdout and stderr are forwarded separately and local stdin is
streamed to the program (EOF included).

${TARGET_USAGE}
Process:
  -t, --tty                 run in a pseudo-terminal: the local terminal goes raw, the remote
                            PTY gets the local size and follows resizes, Ctrl-C reaches PROGRAM
  --cwd DIR                 remote working directory (default: the server's)
  --env KEY=VALUE           set a variable (repeatable); the rest is the server's environment
                            minus names matching *KEY*, *SECRET*, *TOKEN*
  -h, --help                show this help
`;

/**
 * Exit code when the client, not the remote program, failed (like ssh).
 *
 * @example
 * ```ts
 * if (code === CLIENT_FAILURE_EXIT) console.error("the client failed, not the program");
 * ```
 */
export const CLIENT_FAILURE_EXIT = 255;

function parseEnv(pairs: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new UsageError(`--env expects KEY=VALUE, got \`${pair}\``);
    env[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return env;
}

function exitStatus(code: number): number {
  return code >= 0 && code <= 255 ? code : CLIENT_FAILURE_EXIT;
}

/**
 * Runs `exec` and returns the exit code.
 *
 * @example
 * ```ts
 * const code = await runExec(["--url", "ws://127.0.0.1:4000", "--", "sh", "-c", "exit 7"]); // 7
 * ```
 */
export async function runExec(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      ...TARGET_OPTIONS,
      tty: { type: "boolean", short: "t" },
      cwd: { type: "string" },
      env: { type: "string", multiple: true },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
    allowPositionals: true,
  });
  if (values.help) {
    console.log(EXEC_USAGE);
    return 0;
  }
  if (positionals.length === 0) {
    throw new UsageError("no program given: put it after `--`, e.g. `exec --url URL -- ls -l`");
  }
  const env = parseEnv(values.env ?? []);
  let client: ExecServerClient;
  try {
    client = await connectWithFlags(values);
  } catch (err) {
    if (err instanceof UsageError) throw err;
    console.error(describeClientError(err));
    return CLIENT_FAILURE_EXIT;
  }
  try {
    const options = { argv: positionals, cwd: values.cwd, env };
    return values.tty ? await runTty(client, options) : await runPiped(client, options);
  } catch (err) {
    if (err instanceof RemoteCallError && err.method === Method.processStart) {
      const where = values.cwd ? ` in ${values.cwd}` : "";
      console.error(`error: cannot start \`${positionals[0]}\`${where}: ${err.message}`);
      // As shells and env(1) do: 127 when the program (or directory) is missing.
      return /No such file or directory/.test(err.message) ? 127 : 126;
    }
    console.error(describeClientError(err, { path: values.cwd }));
    return CLIENT_FAILURE_EXIT;
  } finally {
    await client.close();
  }
}

interface RunOptions {
  argv: string[];
  cwd?: string;
  env: Record<string, string>;
}

/** The server's environment minus secrets, plus `--env` (what an ssh login would give). */
function envPolicy() {
  return {
    inherit: "all" as const,
    ignoreDefaultExcludes: false,
    exclude: [],
    set: {},
    includeOnly: [],
  };
}

/** Forwards local signals: ^C interrupts the remote program, SIGTERM/SIGHUP kill it. */
function forwardSignals(proc: ExecProcess, options: { interrupt: boolean }): () => void {
  const listeners: [Deno.Signal, () => void][] = [];
  const on = (signal: Deno.Signal, handler: () => void) => {
    try {
      Deno.addSignalListener(signal, handler);
      listeners.push([signal, handler]);
    } catch {
      // not supported on this platform
    }
  };
  // A program may ignore SIGINT; a second ^C kills it, so the user is never stuck.
  let interrupts = 0;
  if (options.interrupt) {
    on("SIGINT", () => {
      const call = interrupts++ === 0 ? proc.signal("interrupt") : proc.terminate();
      call.catch(() => {});
    });
  }
  for (const signal of ["SIGTERM", "SIGHUP"] as const) {
    on(signal, () => proc.terminate().catch(() => {}));
  }
  return () => {
    for (const [signal, handler] of listeners) Deno.removeSignalListener(signal, handler);
  };
}

async function pumpStdin(
  client: ExecServerClient,
  proc: ExecProcess,
  options: { raw: boolean },
): Promise<void> {
  const buffer = new Uint8Array(64 * 1024);
  for (;;) {
    const n = await Deno.stdin.read(buffer);
    if (proc.done) return;
    if (n === null) break;
    // A raw terminal delivers keystrokes one read at a time; forward them as they come.
    const status = await proc.write(buffer.slice(0, n));
    if (status !== "accepted") return;
  }
  if (proc.done) return;
  if (client.hasCapability("processCloseStdin")) {
    await proc.closeStdin();
  } else if (!options.raw) {
    console.error(
      "warning: end of input cannot be forwarded: this server does not support " +
        "process/closeStdin, so the remote program will keep waiting for input",
    );
  }
}

/** Exit status when our stdout was closed under us (`exec ... | head`), as for SIGPIPE. */
const BROKEN_PIPE_EXIT = 141;

/** Copies output until the process closes; `false` if the reader of our output went away. */
async function drainOutput(proc: ExecProcess): Promise<boolean> {
  for await (const chunk of proc) {
    try {
      await writeAll(chunk.stream === "stderr" ? Deno.stderr : Deno.stdout, chunk.data);
    } catch (err) {
      if (!(err instanceof Deno.errors.BrokenPipe)) throw err;
      // Nobody reads any more: stop the program rather than let it run on unobserved.
      await proc.terminate().catch(() => {});
      return false;
    }
  }
  return true;
}

async function runPiped(client: ExecServerClient, options: RunOptions): Promise<number> {
  const proc = await client.start(options.argv, {
    cwd: options.cwd,
    env: options.env,
    envPolicy: envPolicy(),
    tty: false,
    pipeStdin: true,
  });
  const stopSignals = forwardSignals(proc, { interrupt: true });
  try {
    pumpStdin(client, proc, { raw: false }).catch(() => {
      // stdin problems (closed pipe, process gone) must not hide the program's own result
    });
    if (!await drainOutput(proc)) return BROKEN_PIPE_EXIT;
    return exitStatus(await proc.wait());
  } finally {
    stopSignals();
  }
}

async function runTty(client: ExecServerClient, options: RunOptions): Promise<number> {
  const interactive = Deno.stdin.isTerminal();
  if (!interactive) {
    notice("stdin is not a terminal; the remote PTY gets no raw input");
  }
  const size = terminalSize();
  const proc = await client.start(options.argv, {
    cwd: options.cwd,
    env: { TERM: Deno.env.get("TERM") || "xterm-256color", ...options.env },
    envPolicy: envPolicy(),
    tty: true,
    ...(size && client.hasCapability("processResize") ? size : {}),
  });
  const restore = interactive ? enterRawMode() : () => {};
  // In raw mode ^C arrives as a byte and the remote line discipline turns it into SIGINT.
  const stopSignals = forwardSignals(proc, { interrupt: !interactive });
  const onResize = () => {
    const now = terminalSize();
    if (now) proc.resize(now).catch(() => {});
  };
  let resizing = false;
  if (client.hasCapability("processResize")) {
    try {
      Deno.addSignalListener("SIGWINCH", onResize);
      resizing = true;
    } catch {
      // no SIGWINCH on this platform
    }
  }
  try {
    pumpStdin(client, proc, { raw: interactive }).catch(() => {});
    if (!await drainOutput(proc)) return BROKEN_PIPE_EXIT;
    return exitStatus(await proc.wait());
  } finally {
    if (resizing) Deno.removeSignalListener("SIGWINCH", onResize);
    stopSignals();
    restore();
  }
}
