/**
 * `remote`: register with a registry and serve harness sessions over its rendezvous.
 * @module
 */
import { BearerToken, RegistryError, REMOTE_TOKEN_ENV, tokenFromEnv } from "../registry/mod.ts";
import { scrubEnvironmentVariable } from "../util/scrub_env.ts";
import { readTokenFile } from "./_flag_files.ts";
import { RemoteExecutor } from "../remote/mod.ts";
import { applySandboxFlag, SANDBOX_FLAG_OPTION, SANDBOX_FLAG_USAGE } from "./_sandbox_flag.ts";
import { createServerCore } from "../server/mod.ts";
import { log } from "../util/log.ts";
import { VERSION } from "../version.ts";
import { envInteger, parseFlags, UsageError } from "./_args.ts";

/**
 * Help text of `remote`.
 * @example
 * ```ts
 * console.log(REMOTE_USAGE);
 * ```
 */
export const REMOTE_USAGE = `Usage: codex-exec-server remote --remote URL --executor-id ID [options]

Registers this machine as an executor with a registry (e.g. \`codex-exec-server rendezvous\`)
and serves harness sessions over the rendezvous websocket it returns. Reconnects on its own.

Options:
  --remote URL          registry base URL (http:// or https://)
  --executor-id ID      executor id: ASCII letters, digits, '-' or '_'
  --name NAME           display name (default codex-exec-server)
  --label KEY=VALUE     a label sent with the registration (repeatable)
  --token-file PATH     the registry's bearer token (the file's trimmed contents, re-read
                        when the registry refuses it); instead of the environment variable
${SANDBOX_FLAG_USAGE}
  -h, --help            show this help

Environment:
  ${REMOTE_TOKEN_ENV}   bearer token for the registry (required
      without --token-file). Read once at start, then removed from the environment and blanked
      in /proc/<pid>/environ, so the commands this executor runs cannot read it.
`;

function parseLabels(values: string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const value of values) {
    const at = value.indexOf("=");
    if (at <= 0) throw new UsageError(`--label expects KEY=VALUE, got \`${value}\``);
    labels[value.slice(0, at)] = value.slice(at + 1);
  }
  return labels;
}

/**
 * Runs `remote` until a signal or a fatal registry answer; returns the exit code.
 *
 * @example
 * ```ts
 * await runRemote(["--remote", "http://127.0.0.1:8080", "--executor-id", "laptop"]);
 * ```
 */
export async function runRemote(args: string[]): Promise<number> {
  const { values } = parseFlags({
    args,
    options: {
      remote: { type: "string" },
      "executor-id": { type: "string" },
      name: { type: "string" },
      label: { type: "string", multiple: true, default: [] },
      "token-file": { type: "string" },
      ...SANDBOX_FLAG_OPTION,
      help: { type: "boolean", short: "h" },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    console.log(REMOTE_USAGE);
    return 0;
  }
  applySandboxFlag(values["sandbox-unavailable"]);
  if (!values.remote) throw new UsageError("--remote URL is required");
  if (!values["executor-id"]) throw new UsageError("--executor-id ID is required");
  const labels = parseLabels(values.label);
  const core = createServerCore({
    sessionTtlMs: envInteger("CODEX_EXEC_SERVER_SESSION_TTL_MS"),
    processRetentionMs: envInteger("CODEX_EXEC_SERVER_PROCESS_RETENTION_MS"),
  });
  let executor: RemoteExecutor;
  try {
    const tokenFile = values["token-file"];
    let token = tokenFile === undefined
      ? tokenFromEnv() // fails before anything starts when the token is missing
      : new BearerToken(await readTokenFile("--token-file", tokenFile));
    // Commands we run are the same user: they could read the variable from our children's
    // environment or from /proc/<our pid>/environ. Keep the token in memory only.
    scrubEnvironmentVariable(REMOTE_TOKEN_ENV);
    const readToken = () => {
      if (tokenFile === undefined) return token;
      try {
        const text = Deno.readTextFileSync(tokenFile).trim();
        if (text !== "") token = new BearerToken(text);
      } catch (error) {
        log.warn(`remote: cannot re-read --token-file ${tokenFile}: ${(error as Error).message}`);
      }
      return token;
    };
    executor = new RemoteExecutor({
      registry: values.remote,
      executorId: values["executor-id"],
      name: values.name,
      labels,
      metadata: { version: VERSION, os: Deno.build.os, arch: Deno.build.arch },
      readToken,
      serve: (transport) => core.serve(transport),
      initialBackoffMs: envInteger("CODEX_EXEC_SERVER_REMOTE_INITIAL_BACKOFF_MS"),
      maxBackoffMs: envInteger("CODEX_EXEC_SERVER_REMOTE_MAX_BACKOFF_MS"),
      log,
    });
  } catch (error) {
    if (!(error instanceof RegistryError)) throw error;
    console.error(`error: ${error.message}`);
    return 2;
  }
  const onSignal = () => {
    log.info("remote: shutting down: resetting streams, killing managed processes");
    executor.stop();
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  try {
    await executor.run();
    return 0;
  } catch (error) {
    if (!(error instanceof RegistryError)) throw error;
    if (error.code === "auth") {
      console.error(
        `error: authentication failed: ${error.message}; check ${
          values["token-file"] === undefined ? REMOTE_TOKEN_ENV : "--token-file"
        }`,
      );
    } else {
      console.error(`error: registration failed: ${error.message}`);
    }
    return 1;
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
    executor.stop();
    core.shutdown();
  }
}
