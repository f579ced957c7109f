/**
 * `serve`: the local exec-server on a websocket or on stdio.
 * @module
 */
import { parseArgs } from "node:util";
import { createServerCore } from "../server/mod.ts";
import { serveWebSocket } from "../server/ws_server.ts";
import { jsonLinesTransport } from "../transport/json_lines.ts";
import { log } from "../util/log.ts";
import { envInteger, parseIntegerFlag, UsageError } from "./_args.ts";
import { isLoopbackHost } from "../util/loopback.ts";

/** Help text of `serve`. */
export const SERVE_USAGE = `Usage: codex-exec-server [serve] [options]

Serves the exec-server JSON-RPC protocol (processes, files, HTTP) to a Codex client.

Options:
  --listen ws://IP:PORT | stdio   where to listen (default ws://127.0.0.1:0); the bound
                                  ws://IP:PORT is printed as the only stdout line
  --ws-token-file PATH            require "Authorization: Bearer <token>" on websocket
                                  upgrades; the token is the file's trimmed contents
  --concurrent-requests N         handle up to N requests per connection at once after the
                                  handshake (default 1: strictly in order)
  -h, --help                      show this help
`;

function parseListen(value: string): { hostname: string; port: number } | "stdio" {
  if (value === "stdio" || value === "stdio://") return "stdio";
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`--listen expects ws://IP:PORT or stdio, got \`${value}\``);
  }
  if (url.protocol !== "ws:" || url.hostname === "" || (url.pathname !== "/" && url.pathname)) {
    throw new UsageError(`--listen expects ws://IP:PORT or stdio, got \`${value}\``);
  }
  return { hostname: url.hostname.replace(/^\[|\]$/g, ""), port: Number(url.port || "0") };
}

async function readToken(path: string): Promise<string> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    throw new UsageError(`cannot read --ws-token-file ${path}: ${(err as Error).message}`);
  }
  const token = text.trim();
  if (token === "") throw new UsageError(`--ws-token-file ${path} is empty`);
  return token;
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
  const { values } = parseArgs({
    args,
    options: {
      listen: { type: "string", default: "ws://127.0.0.1:0" },
      "ws-token-file": { type: "string" },
      "concurrent-requests": { type: "string", default: "1" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    console.log(SERVE_USAGE);
    return 0;
  }
  const listen = parseListen(values.listen);
  const token = values["ws-token-file"] ? await readToken(values["ws-token-file"]) : undefined;
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
  if (!isLoopbackHost(listen.hostname) && token === undefined) {
    throw new UsageError(
      `refusing to listen on ${listen.hostname} without authentication: anyone who can reach ` +
        `it could run commands. Pass --ws-token-file FILE (clients then send ` +
        `"Authorization: Bearer <token>"), or listen on 127.0.0.1`,
    );
  }
  const server = await serveWebSocket(core, {
    ...listen,
    token,
    pingIntervalSeconds: envInteger("CODEX_EXEC_SERVER_PING_INTERVAL_S"),
  });
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
