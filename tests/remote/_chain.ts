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
