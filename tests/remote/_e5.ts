/**
 * Test infrastructure for E5 (Noise environments): our rendezvous process, an executor
 * (ours: `main.ts remote --environment-id`, or upstream's `codex exec-server --remote`), and a
 * raw harness socket that speaks relay frames by hand for the failure-path tests.
 * @module
 */
import { findUpstream } from "../../scripts/_bench_servers.ts";
import {
  generateHybridKeyPair,
  HybridIkInitiator,
  type HybridKeyPair,
  noisePrologue,
} from "../../lib/noise/mod.ts";
import {
  decodeFrame,
  encodeFrame,
  type RelayFrameInit,
  type RelayMessageFrame,
} from "../../lib/relay/mod.ts";
import {
  connectEnvironment,
  type ConnectionBundle,
} from "../../lib/registry/environment_client.ts";
import { type Child, spawnChild } from "./_chain.ts";

/** The upstream binary, or why it is missing (tests then fail loudly in CI). */
export const UPSTREAM = await findUpstream({ install: true });

/** Starts an executor of `kind` for `environmentId` at registry `base`; waits until it is connected. */
export async function startExecutor(
  kind: "ours" | "upstream",
  base: string,
  environmentId: string,
  options: { token: string; env?: Record<string, string> },
): Promise<Child> {
  if (kind === "ours") {
    const child = await spawnChild(
      ["remote", "--remote", base, "--environment-id", environmentId],
      {
        env: { CODEX_EXEC_SERVER_REMOTE_BEARER_TOKEN: options.token, ...options.env },
      },
    );
    await child.waitForStderr("connected to the rendezvous");
    return child;
  }
  if (!("binary" in UPSTREAM)) throw new Error(`upstream codex unavailable: ${UPSTREAM.skipped}`);
  const home = await Deno.makeTempDir({ prefix: "codex-home-" });
  const process = new Deno.Command(UPSTREAM.binary, {
    args: ["exec-server", "--remote", base, "--environment-id", environmentId],
    // API-key registration works over http:// to loopback.
    env: { CODEX_HOME: home, CODEX_API_KEY: options.token, RUST_LOG: "info", ...options.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const err: string[] = [];
  const errDone = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of process.stderr) err.push(decoder.decode(chunk, { stream: true }));
  })().catch(() => {});
  const outDone = process.stdout.cancel().catch(() => {});
  const status = Promise.all([process.status, errDone, outDone]).then(([s]) => s);
  let stopping: Promise<Deno.CommandStatus> | undefined;
  const handle: Child = {
    child: process,
    firstLine: "",
    stdout: () => "",
    stderr: () => err.join(""),
    exited: () => status,
    stop(signal: Deno.Signal = "SIGTERM") {
      if (!stopping) {
        try {
          process.kill(signal);
        } catch {
          // exited
        }
        stopping = status.finally(() => Deno.remove(home, { recursive: true }).catch(() => {}));
      }
      return stopping;
    },
    async waitForStderr(text: string, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      while (!err.join("").includes(text)) {
        if (Date.now() > deadline) {
          throw new Error(`timed out waiting for ${text}:\n${err.join("")}`);
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async [Symbol.asyncDispose]() {
      await handle.stop();
    },
  };
  await handle.waitForStderr("Noise executor connected to rendezvous", 20_000);
  return handle;
}

/** Fetches a bundle, retrying while the environment is offline. */
export async function bundleFor(
  base: string,
  environmentId: string,
  token: string,
  harnessKey: HybridKeyPair,
): Promise<ConnectionBundle> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      return await connectEnvironment({
        registry: base,
        environmentId,
        harnessKey: harnessKey.public,
        token,
      });
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** A hand-driven harness socket: frames in, frames out. */
export class RawHarness implements AsyncDisposable {
  readonly frames: RelayMessageFrame[] = [];
  readonly streamId = crypto.randomUUID();
  #socket: WebSocket;
  #waiters: (() => void)[] = [];

  private constructor(
    socket: WebSocket,
    readonly bundle: ConnectionBundle,
    readonly key: HybridKeyPair,
  ) {
    this.#socket = socket;
    socket.addEventListener("message", (event) => {
      if (typeof event.data === "string") return;
      this.frames.push(decodeFrame(new Uint8Array(event.data as ArrayBuffer)));
      for (const wake of this.#waiters.splice(0)) wake();
    });
  }

  /** `/connect` + websocket; `mutate` may spoil the bundle first. */
  static async open(base: string, environmentId: string, token: string): Promise<RawHarness> {
    const key = await generateHybridKeyPair();
    const bundle = await bundleFor(base, environmentId, token, key);
    const socket = new WebSocket(bundle.url);
    socket.binaryType = "arraybuffer";
    await new Promise<void>((resolve, reject) => {
      socket.onopen = () => resolve();
      socket.onerror = () => reject(new Error("cannot open the harness socket"));
    });
    return new RawHarness(socket, bundle, key);
  }

  send(body: RelayFrameInit["body"], extra: { streamId?: string } = {}): void {
    this.#socket.send(encodeFrame({ streamId: extra.streamId ?? this.streamId, body }));
  }

  /** Message 1 for this stream, carrying `authorization` (default: the bundle's). */
  async message1(
    authorization = this.bundle.authorization,
  ): Promise<{ message: Uint8Array; initiator: HybridIkInitiator }> {
    const initiator = new HybridIkInitiator({
      prologue: noisePrologue({
        environmentId: this.bundle.environmentId,
        registrationId: this.bundle.registrationId,
        streamId: this.streamId,
      }),
      localStatic: this.key,
      remoteStatic: this.bundle.executorKey,
    });
    return {
      message: await initiator.writeMessage1(new TextEncoder().encode(authorization)),
      initiator,
    };
  }

  /** Waits for a frame of our stream with body `kind`. */
  async next(kind: string, timeoutMs = 15_000): Promise<RelayMessageFrame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.frames.find((f) => f.streamId === this.streamId && f.body.case === kind);
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(
          `no ${kind} frame within ${timeoutMs} ms; got ${this.frames.map((f) => f.body.case)}`,
        );
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#socket.readyState === WebSocket.CLOSED) return;
    const closed = new Promise((resolve) =>
      this.#socket.addEventListener("close", resolve, { once: true })
    );
    this.#socket.close();
    await closed;
  }
}
