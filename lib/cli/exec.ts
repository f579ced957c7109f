/**
 * `exec`: run one command on an exec-server, like `ssh host CMD` / `kubectl exec`: stdout and
 * stderr forwarded, stdin streamed, the remote exit code returned; `-t` for an interactive PTY.
 * @module
 */
import { posix } from "node:path";
import { Method } from "../protocol/methods.ts";
import { pathFromUri } from "../protocol/file_uri.ts";
import { type ExecServerClient, RemoteCallError } from "../client/mod.ts";
import { parseFlags, UsageError } from "./_args.ts";
import { CLIENT_FAILURE_EXIT, ConnectionWatch, runSession } from "./_exec_session.ts";
import { connectWithFlags, describeClientError, TARGET_OPTIONS, TARGET_USAGE } from "./_target.ts";
import { enterRawMode, terminalSize } from "./_terminal.ts";

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

Exit status: the program's (128+N for signal N); 126/127 it could not start / was not found;
130 ended with Ctrl-C; 141 our stdout was closed (exec ... | head); 2 a command-line mistake;
255 the client failed (server unreachable or shutting down, token refused, connection lost).

Ctrl-C goes to the program; without -t a second one ends the client. While a lost connection
is being resumed (up to 25 s) typed input is not sent and Ctrl-C gives up. exec ends when the
program has exited; a background child holding the output open is terminated after 2 s.
`;

export { CLIENT_FAILURE_EXIT };

function parseEnv(pairs: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new UsageError(`--env expects KEY=VALUE, got \`${pair}\``);
    env[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return env;
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
  const { values, positionals } = parseFlags({
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
    strayOptionHint: () =>
      args.includes("--")
        ? undefined
        : "options of the program go after `--`: `exec [options] -- PROGRAM ARGS...`, e.g. " +
          "`exec --url URL -- ls -la`",
  });
  if (values.help) {
    console.log(EXEC_USAGE);
    return 0;
  }
  if (positionals.length === 0) {
    throw new UsageError("no program given: put it after `--`, e.g. `exec --url URL -- ls -l`");
  }
  const env = parseEnv(values.env ?? []);
  let tty = values.tty ?? false;
  if (tty && !Deno.stdin.isTerminal()) {
    // As ssh -t: a PTY fed from a pipe would echo the input and mix escapes into the output.
    console.error("Pseudo-terminal will not be allocated because stdin is not a terminal.");
    tty = false;
  }
  const watch = new ConnectionWatch();
  let client: ExecServerClient;
  try {
    client = await connectWithFlags(values, { onStateChange: (state) => watch.update(state) });
  } catch (err) {
    if (err instanceof UsageError) throw err;
    console.error(describeClientError(err, { registry: Boolean(values.registry) }));
    return CLIENT_FAILURE_EXIT;
  }
  try {
    const options = { argv: positionals, cwd: remoteCwd(client, values.cwd), env };
    return tty ? await runTty(client, options, watch) : await runPiped(client, options, watch);
  } catch (err) {
    if (err instanceof UsageError) throw err;
    if (err instanceof RemoteCallError && err.method === Method.processStart) {
      const where = values.cwd ? ` in ${values.cwd}` : "";
      console.error(`error: cannot start \`${positionals[0]}\`${where}: ${err.message}`);
      if (/[\s|&;<>()$`*?]/.test(positionals[0])) {
        console.error(
          `  \`${positionals[0]}\` is a shell command line, not a program; run it with a shell: ` +
            `exec -- sh -c '${positionals[0].replaceAll("'", "'\\''")}'`,
        );
      }
      // As shells and env(1) do: 127 when the program (or directory) is missing.
      return /No such file or directory/.test(err.message) ? 127 : 126;
    }
    console.error(
      describeClientError(err, { path: values.cwd, registry: Boolean(values.registry) }),
    );
    return CLIENT_FAILURE_EXIT;
  } finally {
    await client.close();
  }
}

/** `--cwd` as an absolute remote path: a relative one is taken from the server's directory. */
function remoteCwd(client: ExecServerClient, cwd: string | undefined): string | undefined {
  if (cwd === undefined || cwd.startsWith("/") || /^file:/i.test(cwd)) return cwd;
  const base = client.environmentInfo?.cwd;
  if (!base) {
    throw new UsageError(
      `--cwd ${cwd} is relative and the server did not say its working directory; pass an ` +
        "absolute path",
    );
  }
  return posix.join(pathFromUri(base), cwd);
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

async function runPiped(
  client: ExecServerClient,
  options: RunOptions,
  watch: ConnectionWatch,
): Promise<number> {
  const proc = await client.start(options.argv, {
    cwd: options.cwd,
    env: options.env,
    envPolicy: envPolicy(),
    tty: false,
    pipeStdin: true,
  });
  return await runSession(client, proc, { raw: false, program: options.argv[0], watch });
}

async function runTty(
  client: ExecServerClient,
  options: RunOptions,
  watch: ConnectionWatch,
): Promise<number> {
  const size = terminalSize();
  const proc = await client.start(options.argv, {
    cwd: options.cwd,
    env: { TERM: Deno.env.get("TERM") || "xterm-256color", ...options.env },
    envPolicy: envPolicy(),
    tty: true,
    ...(size && client.hasCapability("processResize") ? size : {}),
  });
  const restore = enterRawMode();
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
    return await runSession(client, proc, { raw: true, program: options.argv[0], watch });
  } finally {
    if (resizing) Deno.removeSignalListener("SIGWINCH", onResize);
    restore();
  }
}
