/**
 * Shared by `exec` and `fs`: the flags that pick a server, connecting with them, and turning
 * client errors into messages a person can act on.
 * @module
 */
import {
  ConnectError,
  type ConnectOptions,
  type Connector,
  DEFAULT_RECOVERY_TIMEOUT_MS,
  DisconnectedError,
  environmentConnector,
  ExecServerClient,
  FileTooLargeError,
  harnessConnector,
  ProcessFailedError,
  registryConnector,
  RemoteCallError,
  stdioConnector,
  websocketConnector,
} from "../client/mod.ts";
import { validateExecutorId } from "../registry/mod.ts";
import { envInteger, UsageError } from "./_args.ts";
import { readTokenFile } from "./_flag_files.ts";

/**
 * `node:util` parseArgs option specs of the target flags.
 *
 * @example
 * ```ts
 * import { parseArgs } from "node:util";
 * parseArgs({ args: Deno.args, options: { ...TARGET_OPTIONS, help: { type: "boolean" } } });
 * ```
 */
export const TARGET_OPTIONS = {
  url: { type: "string" },
  "stdio-command": { type: "string" },
  registry: { type: "string" },
  "executor-id": { type: "string" },
  "environment-id": { type: "string" },
  "token-file": { type: "string" },
} as const;

/**
 * Help text of the target flags.
 *
 * @example
 * ```ts
 * console.log(`Usage: ...\n${TARGET_USAGE}`);
 * ```
 */
export const TARGET_USAGE = `Server (one of):
  --url URL                 ws://HOST:PORT or wss://... (default: $CODEX_EXEC_SERVER_URL), or a
                            rendezvous URL with role=harness
  --stdio-command CMD       spawn CMD (via sh -c) and speak JSON lines on its stdio, e.g.
                            "codex-exec-server serve --listen stdio" or "ssh host codex-exec-server
                            serve --listen stdio"
  --registry URL --environment-id ID
                            reach a Noise environment (\`remote --environment-id\`, or upstream
                            \`codex exec-server --remote\`) through an E5 registry: end-to-end
                            encrypted, resumes after a drop
  --registry URL --executor-id ID
                            reach a seed-era executor (\`remote --executor-id\`) through the registry
  --token-file PATH         bearer token file (default: $CODEX_EXEC_SERVER_TOKEN; for
                            --environment-id: $CODEX_EXEC_SERVER_NOISE_AUTH_TOKEN; for
                            --executor-id: $CODEX_EXEC_SERVER_REMOTE_BEARER_TOKEN)
`;

/**
 * Parsed values of the target flags.
 *
 * @example
 * ```ts
 * const flags: TargetFlags = { url: "ws://127.0.0.1:4000", "token-file": "/run/token" };
 * ```
 */
export interface TargetFlags {
  url?: string;
  "stdio-command"?: string;
  registry?: string;
  "executor-id"?: string;
  "environment-id"?: string;
  "token-file"?: string;
}

async function readToken(flags: TargetFlags, envName: string): Promise<string | undefined> {
  const path = flags["token-file"];
  if (path) return await readTokenFile("--token-file", path);
  const fromEnv = Deno.env.get(envName)?.trim();
  return fromEnv ? fromEnv : undefined;
}

/**
 * Builds the connector the flags describe.
 *
 * @example
 * ```ts
 * const connector = await connectorFromFlags({ url: "ws://127.0.0.1:4000" });
 * ```
 */
export async function connectorFromFlags(flags: TargetFlags): Promise<Connector> {
  const chosen = [flags.url, flags["stdio-command"], flags.registry].filter((v) => v);
  if (chosen.length > 1) {
    throw new UsageError("pass only one of --url, --stdio-command and --registry");
  }
  if (flags["stdio-command"]) {
    return stdioConnector(["sh", "-c", flags["stdio-command"]]);
  }
  if (flags["environment-id"] !== undefined && flags["executor-id"] !== undefined) {
    throw new UsageError("pass either --environment-id or --executor-id, not both");
  }
  if ((flags["environment-id"] ?? flags["executor-id"]) !== undefined && !flags.registry) {
    throw new UsageError("--environment-id and --executor-id need --registry URL");
  }
  if (flags.registry && flags["environment-id"] !== undefined) {
    const token = await readToken(flags, "CODEX_EXEC_SERVER_NOISE_AUTH_TOKEN");
    if (!token) {
      throw new UsageError(
        "--environment-id needs a token: set CODEX_EXEC_SERVER_NOISE_AUTH_TOKEN or pass " +
          "--token-file PATH",
      );
    }
    return environmentConnector({
      registry: flags.registry,
      environmentId: flags["environment-id"],
      token,
      accountId: Deno.env.get("CODEX_EXEC_SERVER_NOISE_CHATGPT_ACCOUNT_ID") || undefined,
    });
  }
  if (flags.registry) {
    const executorId = flags["executor-id"];
    if (!executorId) throw new UsageError("--registry needs --executor-id ID");
    if (!/^https?:\/\/[^/]/.test(flags.registry)) {
      throw new UsageError(
        `--registry expects the registry's http:// or https:// base URL (what \`rendezvous\` ` +
          `prints), got \`${flags.registry}\``,
      );
    }
    try {
      validateExecutorId(executorId);
    } catch (err) {
      throw new UsageError(`--executor-id: ${(err as Error).message}`);
    }
    const token = await readToken(flags, "CODEX_EXEC_SERVER_REMOTE_BEARER_TOKEN");
    if (!token) {
      throw new UsageError(
        "--registry needs a token: set CODEX_EXEC_SERVER_REMOTE_BEARER_TOKEN or pass " +
          "--token-file PATH",
      );
    }
    return registryConnector({ registry: flags.registry, executorId, token });
  }
  const envUrl = Deno.env.get("CODEX_EXEC_SERVER_URL");
  const url = flags.url ?? (envUrl && envUrl !== "none" ? envUrl : undefined);
  if (!url) {
    throw new UsageError(
      "no server given: pass --url ws://HOST:PORT (the URL `codex-exec-server serve` prints), " +
        "--stdio-command CMD, --registry URL --executor-id ID, or set CODEX_EXEC_SERVER_URL",
    );
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`--url expects ws://HOST:PORT or wss://..., got \`${url}\``);
  }
  if (parsed.protocol !== "ws:" && parsed.protocol !== "wss:") {
    throw new UsageError(`--url expects ws://HOST:PORT or wss://..., got \`${url}\``);
  }
  const token = await readToken(flags, "CODEX_EXEC_SERVER_TOKEN");
  if (parsed.searchParams.get("role") === "harness") return harnessConnector(url, { token });
  return websocketConnector(url, { token });
}

const encoder = new TextEncoder();

/**
 * Writes a status line to stderr when it is a terminal (`\r\n` so it reads right in raw mode);
 * scripts keep a clean stderr.
 *
 * @example
 * ```ts
 * notice("connection lost; resuming the session");
 * ```
 */
export function notice(text: string): void {
  if (!Deno.stderr.isTerminal()) return;
  try {
    Deno.stderr.writeSync(encoder.encode(`\r\n[codex-exec-server: ${text}]\r\n`));
  } catch {
    // stderr gone
  }
}

/**
 * Connects with the flags; connection errors come back as {@link ConnectError}.
 *
 * @example
 * ```ts
 * const client = await connectWithFlags({ url: "ws://127.0.0.1:4000" });
 * ```
 */
export async function connectWithFlags(
  flags: TargetFlags,
  options: ConnectOptions = {},
): Promise<ExecServerClient> {
  const connector = await connectorFromFlags(flags);
  const { onStateChange, ...rest } = options;
  const recoveryTimeoutMs = envInteger("CODEX_EXEC_SERVER_RESUME_TIMEOUT_MS") ??
    DEFAULT_RECOVERY_TIMEOUT_MS;
  return await ExecServerClient.connect(connector, {
    clientName: "codex-exec-server-cli",
    recoveryTimeoutMs,
    onStateChange(state, detail) {
      if (state === "recovering") {
        notice(
          `connection lost; resuming the session for up to ${
            Math.round(recoveryTimeoutMs / 1000)
          } s (Ctrl-C gives up)`,
        );
      } else if (state === "connected") {
        notice(`reconnected in ${Math.round(detail.elapsedMs ?? 0)} ms`);
      }
      onStateChange?.(state, detail);
    },
    ...rest,
  });
}

/**
 * Turns any error from the client into an `error: ...` text with a hint.
 *
 * @example
 * ```ts
 * console.error(describeClientError(new Error("boom")));
 * ```
 */
export function describeClientError(
  err: unknown,
  context: { path?: string; registry?: boolean } = {},
): string {
  if (err instanceof ConnectError && context.registry) {
    switch (err.code) {
      case "auth_refused":
        return `error: ${err.message}\n  The registry refused the token: pass the registry's ` +
          "token with --token-file PATH or CODEX_EXEC_SERVER_REMOTE_BEARER_TOKEN (the one " +
          "`rendezvous --token-file` was started with).";
      case "rejected":
        return `error: ${err.message}\n  Check --executor-id: it must be the id a running ` +
          "`codex-exec-server remote --executor-id ID` registered with this registry.";
      case "unreachable":
      case "timeout":
        return `error: ${err.message}\n  Is the registry running and reachable from here? ` +
          "Check the --registry URL (the one `codex-exec-server rendezvous` prints) and that " +
          "the executor's `remote` is connected to it.";
    }
  }
  if (err instanceof ConnectError) {
    switch (err.code) {
      case "unreachable":
        return `error: ${err.message}\n  Is the server running and reachable from here? Start ` +
          "one with `codex-exec-server serve` (it prints its ws:// URL) and pass that URL with " +
          "--url or CODEX_EXEC_SERVER_URL.";
      case "timeout":
        return `error: ${err.message}\n  Check the host and port, any firewall or proxy in ` +
          "between, and that the server is not overloaded.";
      case "auth_refused":
        return `error: ${err.message}\n  Pass the server's token (the contents of its ` +
          "--ws-token-file) with --token-file PATH or CODEX_EXEC_SERVER_TOKEN.";
      default:
        return `error: ${err.message}`;
    }
  }
  if (err instanceof RemoteCallError) {
    if (err.notFound && context.path) {
      return `error: remote path ${context.path} does not exist (${err.message})`;
    }
    return `error: the server refused ${err.method}: ${err.message}`;
  }
  if (err instanceof DisconnectedError || err instanceof ProcessFailedError) {
    const cause = err instanceof ProcessFailedError ? err.cause : err;
    if (cause instanceof DisconnectedError && cause.code === "server_shutdown") {
      return `error: ${cause.message}\n  Start the server again (or ask whoever runs it), ` +
        "then run the command again.";
    }
    if (cause instanceof DisconnectedError && cause.code === "recovery_failed") {
      return `error: ${cause.message}\n  The connection to the server was lost and could not ` +
        "be resumed. Check that the server is still running and reachable from here, then " +
        "run the command again; what it was running has been stopped by now.";
    }
  }
  if (err instanceof DisconnectedError) {
    return `error: ${err.message}\n  The server went away; anything it was running has been ` +
      "stopped. Check that it is running and run the command again.";
  }
  if (err instanceof ProcessFailedError || err instanceof FileTooLargeError) {
    return `error: ${err.message}`;
  }
  if (err instanceof TypeError && /must be absolute/.test(err.message)) {
    return `error: ${err.message}`;
  }
  return `error: ${(err as Error)?.stack ?? String(err)}`;
}
