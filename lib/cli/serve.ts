/**
 * `serve`: the local exec-server on a websocket or on stdio.
 * @module
 */
import { applySandboxFlag, SANDBOX_FLAG_OPTION, SANDBOX_FLAG_USAGE } from "./_sandbox_flag.ts";
import { createServerCore } from "../server/mod.ts";
import { serveWebSocket } from "../server/ws_server.ts";
import { jsonLinesTransport } from "../transport/json_lines.ts";
import { log } from "../util/log.ts";
import { envInteger, listenOrExplain, parseFlags, parseIntegerFlag, UsageError } from "./_args.ts";
import { isLoopbackHost } from "../util/loopback.ts";
import { wsAuthFromFlags } from "./_ws_auth_flags.ts";
import { parseListenUrl } from "./_flag_files.ts";
import { maxConnectionsFlag, maxConnectionsUsage } from "./_max_connections_flag.ts";

/** Help text of `serve`. */
export const SERVE_USAGE = `Usage: codex-exec-server [serve] [options]

Serves the exec-server JSON-RPC protocol (processes, files, HTTP) to a Codex client.

Options:
  --listen ws://IP:PORT | stdio   where to listen (default ws://127.0.0.1:0); the bound
                                  ws://IP:PORT is printed as the only stdout line
  --ws-auth capability-token | signed-bearer-token
                                  how websocket upgrades authenticate (upstream's modes):
    capability-token              "Authorization: Bearer <token>" must match
      --ws-token-file PATH          the file's trimmed contents (alone, it implies
                                    --ws-auth capability-token), or
      --ws-token-sha256 HEX         the token's SHA-256 digest (64 hex digits)
    signed-bearer-token           "Authorization: Bearer <JWT>", HS256, exp required
      --ws-shared-secret-file PATH  the key: the file's trimmed contents, >= 32 bytes
      --ws-issuer ISS               require this iss claim
      --ws-audience AUD             require this aud claim (or an aud array holding it)
      --ws-max-clock-skew-seconds N leeway for exp and nbf (default 30)
  --concurrent-requests N         handle up to N requests per connection at once after the
                                  handshake (default 1: strictly in order)
${maxConnectionsUsage(34)}
  -c, --config KEY=VALUE, --enable FEATURE, --disable FEATURE, --strict-config
                                  accepted so a launch line written for upstream starts us;
                                  they configure upstream features this server does not have
${SANDBOX_FLAG_USAGE}
  -h, --help                      show this help
`;

function parseListen(value: string): { hostname: string; port: number } | "stdio" {
  if (value === "stdio" || value === "stdio://") return "stdio";
  return parseListenUrl(value, { scheme: "ws", expects: "ws://IP:PORT or stdio" });
}

/**
 * Runs `serve` until a signal (or stdin EOF in stdio mode); returns the exit code.
 *
 * @example
 * ```ts
 * await runServe(["--listen", "ws://127.0.0.1:0"]);
 * ```
 */
export async function runServe(args: string[]): Promise<number> {
  const { values } = parseFlags({
    args,
    options: {
      listen: { type: "string", default: "ws://127.0.0.1:0" },
      "ws-auth": { type: "string" },
      "ws-token-file": { type: "string" },
      "ws-token-sha256": { type: "string" },
      "ws-shared-secret-file": { type: "string" },
      "ws-issuer": { type: "string" },
      "ws-audience": { type: "string" },
      "ws-max-clock-skew-seconds": { type: "string" },
      config: { type: "string", short: "c", multiple: true },
      enable: { type: "string", multiple: true },
      disable: { type: "string", multiple: true },
      "strict-config": { type: "boolean" },
      "concurrent-requests": { type: "string", default: "1" },
      "max-connections": { type: "string" },
      ...SANDBOX_FLAG_OPTION,
      help: { type: "boolean", short: "h" },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    console.log(SERVE_USAGE);
    return 0;
  }
  applySandboxFlag(values["sandbox-unavailable"]);
  const listen = parseListen(values.listen);
  const auth = await wsAuthFromFlags(values);
  const maxConnections = maxConnectionsFlag(values["max-connections"]);
  const core = createServerCore({
    concurrentRequests: parseIntegerFlag(
      "--concurrent-requests",
      values["concurrent-requests"],
      { min: 1 },
    ),
    sessionTtlMs: envInteger("CODEX_EXEC_SERVER_SESSION_TTL_MS"),
    processRetentionMs: envInteger("CODEX_EXEC_SERVER_PROCESS_RETENTION_MS"),
  });
  const stop = Promise.withResolvers<void>();
  const onSignal = () => stop.resolve();
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);

  if (listen === "stdio") {
    const served = core.serve(jsonLinesTransport({
      label: "exec-server stdio",
      readable: Deno.stdin.readable,
      writable: Deno.stdout.writable,
    }));
    await Promise.race([served, stop.promise]);
    core.shutdown();
    return 0;
  }
  if (!isLoopbackHost(listen.hostname) && auth === undefined) {
    throw new UsageError(
      `refusing to listen on ${listen.hostname} without authentication: anyone who can reach ` +
        `it could run commands. Pass --ws-token-file FILE (clients then send ` +
        `"Authorization: Bearer <token>"), or listen on 127.0.0.1`,
    );
  }
  const server = await listenOrExplain(
    `${listen.hostname}:${listen.port}`,
    () =>
      serveWebSocket(core, {
        ...listen,
        auth,
        pingIntervalSeconds: envInteger("CODEX_EXEC_SERVER_PING_INTERVAL_S"),
        httpDeadlineMs: envInteger("CODEX_EXEC_SERVER_HTTP_DEADLINE_MS"),
        maxConnections,
      }),
  );
  const host = server.addr.hostname.includes(":")
    ? `[${server.addr.hostname}]`
    : server.addr.hostname;
  await writeStdoutLine(`ws://${host}:${server.addr.port}`);
  log.info(`exec-server listening on ws://${host}:${server.addr.port}`);
  await stop.promise;
  log.info("shutting down: killing managed processes");
  core.shutdown();
  await server.shutdown();
  return 0;
}

async function writeStdoutLine(line: string): Promise<void> {
  const bytes = new TextEncoder().encode(line + "\n");
  let written = 0;
  while (written < bytes.length) written += await Deno.stdout.write(bytes.subarray(written));
}
