/**
 * `remote`: register with a registry and serve harness sessions over its rendezvous.
 * @module
 */
import { BearerToken, RegistryError, REMOTE_TOKEN_ENV, tokenFromEnv } from "../registry/mod.ts";
import { scrubEnvironmentVariable } from "../util/scrub_env.ts";
import { readTokenFile } from "./_flag_files.ts";
import { EnvironmentExecutor, RemoteExecutor } from "../remote/mod.ts";
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
export const REMOTE_USAGE =
  `Usage: codex-exec-server remote --remote URL --environment-id ID [options]
       codex-exec-server remote --remote URL --executor-id ID [options]

Registers this machine with a registry (e.g. \`codex-exec-server rendezvous\`) and serves
harness sessions over the rendezvous websocket it returns. Reconnects on its own.

--environment-id (E5, what current Codex speaks): registers a Noise static key; every
  session is an end-to-end encrypted hybrid post-quantum Noise IK stream, so the rendezvous
  sees only ciphertext. Codex reaches it with CODEX_EXEC_SERVER_NOISE_REGISTRY_URL,
  CODEX_EXEC_SERVER_NOISE_ENVIRONMENT_ID and CODEX_EXEC_SERVER_NOISE_AUTH_TOKEN.
--executor-id (seed era): cleartext relay streams with our reliability layer.

Options:
  --remote URL                  registry base URL (http:// or https://)
  --environment-id ID           environment id: ASCII letters, digits, '-' or '_'
  --executor-id ID              executor id (seed era), same rules
  --registration-bearer-stdin   read the registry bearer token from the first line of stdin
                                (newline-terminated, at most 16 KiB), as upstream
  --token-file PATH             the registry's bearer token (the file's trimmed contents,
                                re-read when the registry refuses it)
  --name NAME                   display name (default codex-exec-server)
  --label KEY=VALUE             a label sent with a seed-era registration (repeatable)
${SANDBOX_FLAG_USAGE}
  -h, --help                    show this help

Environment:
  ${REMOTE_TOKEN_ENV}   bearer token for the registry (required
      without --token-file or --registration-bearer-stdin; CODEX_API_KEY also works). Read once
      at start, then removed from the environment and blanked in /proc/<pid>/environ, so the
      commands this executor runs cannot read it.
`;

/** Upstream's limit for the stdin bearer line. */
const MAX_STDIN_BEARER_BYTES = 16 * 1024;

async function readStdinBearer(): Promise<BearerToken> {
  const reader = Deno.stdin.readable.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      chunks.push(value);
      total += value.length;
      if (value.includes(0x0a) || total > MAX_STDIN_BEARER_BYTES + 1) break;
    }
  } finally {
    reader.releaseLock();
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  const newline = bytes.indexOf(0x0a);
  const line = newline < 0 ? "" : new TextDecoder().decode(bytes.subarray(0, newline)).trim();
  if (newline < 0 || newline > MAX_STDIN_BEARER_BYTES || line === "") {
    throw new UsageError(
      "expected a newline-terminated registration bearer of at most 16 KiB on stdin",
    );
  }
  return new BearerToken(line);
}

/** `CODEX_EXEC_SERVER_REMOTE_BEARER_TOKEN`, else upstream's `CODEX_API_KEY`. */
function tokenFromEnvironment(): { token: BearerToken; variable: string } {
  if (!Deno.env.get(REMOTE_TOKEN_ENV)?.trim() && Deno.env.get("CODEX_API_KEY")?.trim()) {
    return { token: tokenFromEnv("CODEX_API_KEY"), variable: "CODEX_API_KEY" };
  }
  return { token: tokenFromEnv(), variable: REMOTE_TOKEN_ENV };
}

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
      "environment-id": { type: "string" },
      "registration-bearer-stdin": { type: "boolean" },
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
  if (values["executor-id"] && values["environment-id"]) {
    throw new UsageError("use either --environment-id (E5 Noise) or --executor-id (seed era)");
  }
  if (!values["executor-id"] && !values["environment-id"]) {
    throw new UsageError("--environment-id ID (or the seed-era --executor-id ID) is required");
  }
  if (values["token-file"] !== undefined && values["registration-bearer-stdin"]) {
    throw new UsageError("use either --token-file or --registration-bearer-stdin");
  }
  const labels = parseLabels(values.label);
  const core = createServerCore({
    sessionTtlMs: envInteger("CODEX_EXEC_SERVER_SESSION_TTL_MS"),
    processRetentionMs: envInteger("CODEX_EXEC_SERVER_PROCESS_RETENTION_MS"),
  });
  let executor: RemoteExecutor | EnvironmentExecutor;
  try {
    const tokenFile = values["token-file"];
    let token = tokenFile !== undefined
      ? new BearerToken(await readTokenFile("--token-file", tokenFile))
      : values["registration-bearer-stdin"]
      ? await readStdinBearer()
      : tokenFromEnvironment().token; // fails before anything starts when the token is missing
    // Commands we run are the same user: they could read the variable from our children's
    // environment or from /proc/<our pid>/environ. Keep the token in memory only.
    scrubEnvironmentVariable(REMOTE_TOKEN_ENV);
    scrubEnvironmentVariable("CODEX_API_KEY");
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
    executor = values["environment-id"] !== undefined
      ? new EnvironmentExecutor({
        registry: values.remote,
        environmentId: values["environment-id"],
        readToken,
        serve: (transport) => core.serve(transport),
        initialBackoffMs: envInteger("CODEX_EXEC_SERVER_REMOTE_INITIAL_BACKOFF_MS"),
        maxBackoffMs: envInteger("CODEX_EXEC_SERVER_REMOTE_MAX_BACKOFF_MS"),
        pingIntervalMs: envInteger("CODEX_EXEC_SERVER_PING_INTERVAL_MS"),
        pongTimeoutMs: envInteger("CODEX_EXEC_SERVER_PONG_TIMEOUT_MS"),
        validationTimeoutMs: envInteger("CODEX_EXEC_SERVER_VALIDATION_TIMEOUT_MS"),
        log,
      })
      : new RemoteExecutor({
        registry: values.remote,
        executorId: values["executor-id"]!,
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
