/**
 * Test infrastructure for remote mode: real `rendezvous` and `remote` child processes, a TCP
 * proxy that can cut connections, and harness clients through the rendezvous.
 * @module
 */
import { connectHarnessStream } from "../../lib/relay/mod.ts";
import { resolveHarnessUrl } from "../../lib/registry/mod.ts";
import { spawnMain, TestClient } from "../_harness.ts";

/** A child process with its output collected. */
export interface Child extends AsyncDisposable {
  child: Deno.ChildProcess;
  /** First stdout line (rendezvous: its base URL). */
  firstLine: string;
  stdout(): string;
  stderr(): string;
  /** Sends a signal (default SIGTERM) and waits for exit and drained output. */
  stop(signal?: Deno.Signal): Promise<Deno.CommandStatus>;
  /** Waits for exit without signalling. */
  exited(): Promise<Deno.CommandStatus>;
  /** Resolves once stderr contains `text` (count-th occurrence). */
  waitForStderr(text: string, timeoutMs?: number, count?: number): Promise<void>;
}

function collect(stream: ReadableStream<Uint8Array>, sink: string[]): Promise<void> {
  return (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) sink.push(decoder.decode(chunk, { stream: true }));
  })().catch(() => {});
}

/** Spawns `main.ts ARGS`; optionally waits for the first stdout line. */
export async function spawnChild(
  args: string[],
  options: { env?: Record<string, string>; waitFirstLine?: boolean } = {},
): Promise<Child> {
  const child = spawnMain(args, options.env ?? {});
  child.stdin.close().catch(() => {});
  const out: string[] = [];
  const err: string[] = [];
  const outDone = collect(child.stdout, out);
  const errDone = collect(child.stderr, err);
  const status = Promise.all([child.status, outDone, errDone]).then(([s]) => s);
  let firstLine = "";
  if (options.waitFirstLine) {
    const deadline = Date.now() + 20_000;
    while (!out.join("").includes("\n")) {
      const exited = await Promise.race([
        status.then(() => true),
        new Promise<false>((r) => setTimeout(() => r(false), 20)),
      ]);
      if (exited || Date.now() > deadline) {
        throw new Error(`${args[0]} printed no first line; stderr:\n${err.join("")}`);
      }
    }
    firstLine = out.join("").split("\n")[0];
  }
  let stopping: Promise<Deno.CommandStatus> | undefined;
  const handle: Child = {
    child,
    firstLine,
    stdout: () => out.join(""),
    stderr: () => err.join(""),
    exited: () => status,
    stop(signal: Deno.Signal = "SIGTERM") {
      if (!stopping) {
        try {
          child.kill(signal);
        } catch {
          // already exited
        }
        stopping = status;
      }
      return stopping;
    },
    async waitForStderr(text: string, timeoutMs = 15_000, count = 1) {
      const deadline = Date.now() + timeoutMs;
      while (err.join("").split(text).length - 1 < count) {
        if (Date.now() > deadline) {
          throw new Error(`timed out waiting for stderr ${JSON.stringify(text)}:\n${err.join("")}`);
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async [Symbol.asyncDispose]() {
      await handle.stop();
    },
  };
  return handle;
}

/** Starts `rendezvous` (token file with `token` when given). */
export async function startRendezvousProcess(
  options: { token?: string; args?: string[]; env?: Record<string, string> } = {},
): Promise<Child> {
  const args = ["rendezvous", ...(options.args ?? [])];
  if (options.token !== undefined) {
    const file = await Deno.makeTempFile({ prefix: "rendezvous-token-" });
    await Deno.writeTextFile(file, `${options.token}\n`);
    args.push("--token-file", file);
  }
  return spawnChild(args, { env: options.env, waitFirstLine: true });
}

/** Starts `remote --remote BASE --executor-id ID` and waits until it is connected. */
export async function startRemoteProcess(
  base: string,
  executorId: string,
  options: { token: string; env?: Record<string, string>; args?: string[]; wait?: boolean },
): Promise<Child> {
  const child = await spawnChild(
    ["remote", "--remote", base, "--executor-id", executorId, ...(options.args ?? [])],
    {
      env: {
        CODEX_EXEC_SERVER_REMOTE_BEARER_TOKEN: options.token,
        ...options.env,
      },
    },
  );
  if (options.wait !== false) await child.waitForStderr("connected to the rendezvous");
  return child;
}

/** Opens an initialized harness session to `executorId` through the rendezvous at `base`. */
export async function harnessClient(
  base: string,
  executorId: string,
  token: string,
): Promise<TestClient> {
  const url = await resolveHarnessUrl({ registry: base, executorId, token });
  const client = new TestClient(await connectHarnessStream(url));
  await client.initialize();
  return client;
}

/** A TCP proxy on 127.0.0.1 whose connections can be cut (both directions at once). */
export interface TcpProxy extends AsyncDisposable {
  port: number;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Closes every open connection; new ones are still accepted. */
  cut(): void;
  /** Black-holes every open connection (bytes are read and discarded, nothing is closed). */
  freeze(): void;
  close(): Promise<void>;
}

/** Starts a TCP proxy forwarding to 127.0.0.1:`targetPort`. */
export function startTcpProxy(targetPort: number): TcpProxy {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const open = new Set<Deno.Conn>();
  const frozen = new Set<Deno.Conn>();
  const pumps = new Set<Promise<void>>();
  let accepted = 0;
  function closeConn(conn: Deno.Conn) {
    if (!open.delete(conn)) return;
    try {
      conn.close();
    } catch {
      // closed
    }
  }
  async function pipe(from: Deno.Conn, to: Deno.Conn) {
    const buffer = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const n = await from.read(buffer);
        if (n === null) break;
        if (frozen.has(from)) continue;
        let written = 0;
        while (written < n) written += await to.write(buffer.subarray(written, n));
      }
    } catch {
      // cut or reset
    }
    closeConn(from);
    // A black hole does not pass the close on either.
    if (!frozen.has(from)) closeConn(to);
  }
  const accepting = (async () => {
    for await (const inbound of listener) {
      accepted++;
      let outbound: Deno.Conn;
      try {
        outbound = await Deno.connect({ hostname: "127.0.0.1", port: targetPort });
      } catch {
        inbound.close();
        continue;
      }
      open.add(inbound);
      open.add(outbound);
      for (const p of [pipe(inbound, outbound), pipe(outbound, inbound)]) {
        pumps.add(p);
        p.finally(() => pumps.delete(p));
      }
    }
  })().catch(() => {});
  const proxy: TcpProxy = {
    port: (listener.addr as Deno.NetAddr).port,
    get accepted() {
      return accepted;
    },
    cut() {
      for (const conn of [...open]) closeConn(conn);
    },
    freeze() {
      for (const conn of open) frozen.add(conn);
    },
    async close() {
      listener.close();
      frozen.clear();
      proxy.cut();
      await accepting;
      await Promise.all([...pumps]);
    },
    async [Symbol.asyncDispose]() {
      await proxy.close();
    },
  };
  return proxy;
}
