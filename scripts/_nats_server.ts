/**
 * A real `nats-server -js` for cluster tests and bench lines: free loopback port, temporary
 * JetStream store, stopped (and its store removed) on dispose.
 * @module
 */

/** A running nats-server. */
export interface NatsServer extends AsyncDisposable {
  /** `nats://127.0.0.1:PORT` */
  url: string;
  port: number;
  stop(): Promise<void>;
}

/** Where nats-server is, or undefined (then cluster tests are skipped with a message). */
export function natsServerPath(): string | undefined {
  for (
    const candidate of [
      "/usr/sbin/nats-server",
      "/usr/bin/nats-server",
      "/usr/local/bin/nats-server",
    ]
  ) {
    try {
      if (Deno.statSync(candidate).isFile) return candidate;
    } catch {
      // not there
    }
  }
  return undefined;
}

/** `ignore` value for cluster tests; prints why once when nats-server is missing. */
export const NO_NATS = (() => {
  const missing = natsServerPath() === undefined;
  if (missing) {
    console.error(
      "SKIPPED cluster tests: nats-server is not installed (apt-get install nats-server; .ci/run does)",
    );
  }
  return missing;
})();

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/**
 * Options of {@linkcode startNats}.
 * @example
 * ```ts
 * import type { StartNatsOptions } from "./_nats_server.ts";
 * const options: StartNatsOptions = { config: 'authorization { token: "s3cret" }' };
 * ```
 */
export interface StartNatsOptions {
  /** Extra nats-server configuration (auth, TLS blocks), appended to the file. */
  config?: string;
  /** Listen on this port instead of a free one (a restart on the port its clients dial). */
  port?: number;
}

/** Starts nats-server with JetStream on a free loopback port; resolves once it accepts. */
export async function startNats(options: StartNatsOptions = {}): Promise<NatsServer> {
  const binary = natsServerPath();
  if (!binary) throw new Error("nats-server is not installed");
  const dir = await Deno.makeTempDir({ prefix: "nats-js-" });
  const port = options.port ?? freePort();
  // 8 MiB payloads: legacy relay peers get whole messages per frame (DESIGN.md).
  await Deno.writeTextFile(
    `${dir}/nats.conf`,
    `listen: 127.0.0.1:${port}\nmax_payload: 8MB\njetstream { store_dir: "${dir}/js" }\n` +
      (options.config ?? "") + "\n",
  );
  const child = new Deno.Command(binary, {
    args: ["-c", `${dir}/nats.conf`],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conn.close();
      break;
    } catch (error) {
      if (Date.now() > deadline) {
        child.kill("SIGKILL");
        await child.status;
        throw new Error(`nats-server did not listen on ${port}: ${error}`);
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= (async () => {
      try {
        child.kill("SIGTERM");
      } catch {
        // gone
      }
      await child.status;
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    })();
    return stopped;
  };
  return { url: `nats://127.0.0.1:${port}`, port, stop, [Symbol.asyncDispose]: stop };
}
