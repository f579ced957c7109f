/**
 * `rendezvous`: our self-hostable registry + rendezvous.
 * @module
 */
import { startRendezvous } from "../rendezvous/mod.ts";
import { log } from "../util/log.ts";
import { envInteger, listenOrExplain, parseFlags, UsageError } from "./_args.ts";
import { isLoopbackHost } from "../util/loopback.ts";
import { parseListenUrl, readTokenFile } from "./_flag_files.ts";

/**
 * Help text of `rendezvous`.
 * @example
 * ```ts
 * console.log(RENDEZVOUS_USAGE);
 * ```
 */
export const RENDEZVOUS_USAGE = `Usage: codex-exec-server rendezvous [options]

Runs a registry + rendezvous: executors (\`remote\`) register and connect, clients (\`exec\`,
\`fs\`, Codex) reach them by executor id. Prints its base URL as the first stdout line.

Options:
  --listen http://IP:PORT   where to listen (default http://127.0.0.1:0)
  --token-file PATH         require "Authorization: Bearer <token>" on register/connect;
                            the token is the file's trimmed contents (required off loopback)
  --public-url URL          ws:// or wss:// base of issued websocket URLs (default: the
                            host the request came to)
  --url-ttl SECONDS         lifetime of issued websocket URLs (default 600)
  --grace SECONDS           how long harness sockets wait for a reconnecting executor
                            (default 60)
  -h, --help                show this help
`;

function parseSeconds(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) {
    throw new UsageError(`${name} expects a positive number of seconds, got \`${value}\``);
  }
  return n;
}

/**
 * Runs `rendezvous` until SIGINT/SIGTERM; returns the exit code.
 *
 * @example
 * ```ts
 * await runRendezvous(["--listen", "http://127.0.0.1:0"]);
 * ```
 */
export async function runRendezvous(args: string[]): Promise<number> {
  const { values } = parseFlags({
    args,
    options: {
      listen: { type: "string", default: "http://127.0.0.1:0" },
      "token-file": { type: "string" },
      "public-url": { type: "string" },
      "url-ttl": { type: "string", default: "600" },
      grace: { type: "string", default: "60" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    console.log(RENDEZVOUS_USAGE);
    return 0;
  }
  const listen = parseListenUrl(values.listen, { scheme: "http", expects: "http://IP:PORT" });
  let token: string | undefined;
  if (values["token-file"]) {
    token = await readTokenFile("--token-file", values["token-file"]);
  } else if (!isLoopbackHost(listen.hostname)) {
    throw new UsageError(
      `refusing to listen on ${listen.hostname} without --token-file: anyone who can reach it ` +
        `could register an executor or reach one`,
    );
  }
  const publicUrl = values["public-url"];
  if (publicUrl !== undefined && !/^wss?:\/\/[^/?#]+\/?$/.test(publicUrl)) {
    throw new UsageError(
      `--public-url expects ws://HOST[:PORT] or wss://..., got \`${publicUrl}\``,
    );
  }
  const server = await listenOrExplain(`${listen.hostname}:${listen.port}`, () =>
    startRendezvous({
      ...listen,
      token,
      publicUrl,
      urlTtlSeconds: parseSeconds("--url-ttl", values["url-ttl"]),
      graceMs: parseSeconds("--grace", values.grace) * 1000,
      pingIntervalSeconds: envInteger("CODEX_EXEC_SERVER_PING_INTERVAL_S"),
      httpDeadlineMs: envInteger("CODEX_EXEC_SERVER_HTTP_DEADLINE_MS"),
    }));
  const stop = Promise.withResolvers<void>();
  const onSignal = () => stop.resolve();
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  const line = new TextEncoder().encode(server.url + "\n");
  for (let written = 0; written < line.length;) {
    written += await Deno.stdout.write(line.subarray(written));
  }
  log.info(`rendezvous listening on ${server.url}${token ? " (bearer token required)" : ""}`);
  await stop.promise;
  Deno.removeSignalListener("SIGINT", onSignal);
  Deno.removeSignalListener("SIGTERM", onSignal);
  log.info("rendezvous: shutting down");
  await server.shutdown();
  return 0;
}
