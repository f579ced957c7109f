/**
 * Test harness: starts the real server binary (`deno run main.ts serve`) and speaks JSON-RPC to it
 * over a real websocket or its stdio.
 * @module
 */
import { type MessageTransport, OversizedMessage } from "../lib/transport/types.ts";
import { websocketTransport } from "../lib/transport/websocket.ts";
import { jsonLinesTransport } from "../lib/transport/json_lines.ts";

export { until, within } from "./_deadline.ts";

export const ROOT = new URL("..", import.meta.url).pathname;
const MAIN = `${ROOT}main.ts`;

/** A running server process. */
export interface ServerHandle extends AsyncDisposable {
  /** `ws://127.0.0.1:PORT` (websocket mode only). */
  url: string;
  child: Deno.ChildProcess;
  /** Everything the server wrote to stderr so far. */
  stderr(): string;
  /** Sends a signal (default SIGTERM) and waits for exit. */
  stop(signal?: Deno.Signal): Promise<Deno.CommandStatus>;
}

/** Options of {@link startServer}. */
export interface StartServerOptions {
  args?: string[];
  env?: Record<string, string>;
}

function drain(stream: ReadableStream<Uint8Array>, sink: string[]): Promise<void> {
  return (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) sink.push(decoder.decode(chunk, { stream: true }));
  })().catch(() => {});
}

/** Spawns `main.ts` with the given arguments (no stdio wiring beyond pipes). */
export function spawnMain(args: string[], env: Record<string, string> = {}): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    cwd: ROOT,
    // No update check: with HTTP_PROXY set by a test, deno's own CONNECT to dl.deno.land would
    // reach that test's proxy and be taken for the server's traffic.
    env: { CODEX_EXEC_SERVER_LOG: "debug", DENO_NO_UPDATE_CHECK: "1", ...env },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** Starts `serve --listen ws://127.0.0.1:0` and reads the bound URL from stdout's first line. */
export async function startServer(options: StartServerOptions = {}): Promise<ServerHandle> {
  const child = spawnMain(["serve", "--listen", "ws://127.0.0.1:0", ...(options.args ?? [])], {
    ...options.env,
  });
  const stderr: string[] = [];
  const stderrDone = drain(child.stderr, stderr);
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  const deadline = Date.now() + 20_000;
  while (!buffered.includes("\n")) {
    const { value, done } = await reader.read();
    if (done || Date.now() > deadline) {
      await child.status;
      await stderrDone;
      throw new Error(`server did not print its URL; stderr:\n${stderr.join("")}`);
    }
    buffered += value;
  }
  const url = buffered.split("\n")[0];
  const stdoutRest: string[] = [buffered.slice(url.length + 1)];
  const stdoutDone = (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      stdoutRest.push(value);
    }
  })().catch(() => {});
  child.stdin.close().catch(() => {});
  let status: Promise<Deno.CommandStatus> | null = null;
  const stop = (signal: Deno.Signal = "SIGTERM") => {
    if (!status) {
      try {
        child.kill(signal);
      } catch {
        // already exited
      }
      status = Promise.all([child.status, stderrDone, stdoutDone]).then(([s]) => s);
    }
    return status;
  };
  return {
    url,
    child,
    stderr: () => stderr.join(""),
    stop,
    async [Symbol.asyncDispose]() {
      await stop();
    },
  };
}

/** A JSON-RPC error answered by the server. */
export class RpcCallError extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
  }
}

type Json = Record<string, unknown>;

/** A minimal JSON-RPC client over one of our transports, for tests. */
export class TestClient implements AsyncDisposable {
  readonly transport: MessageTransport;
  /** Every message received, in order. */
  readonly received: Json[] = [];
  #nextId = 1;
  #waiters: { match: (m: Json) => boolean; resolve: (m: Json) => void }[] = [];
  readonly done: Promise<void>;

  constructor(transport: MessageTransport) {
    this.transport = transport;
    this.done = (async () => {
      for await (const inbound of transport.receive()) {
        if (inbound instanceof OversizedMessage) continue;
        const text = typeof inbound === "string" ? inbound : new TextDecoder().decode(inbound);
        const message = JSON.parse(text) as Json;
        this.received.push(message);
        this.#waiters = this.#waiters.filter((w) => {
          if (!w.match(message)) return true;
          w.resolve(message);
          return false;
        });
      }
    })();
  }

  /** Connects to a websocket URL. */
  static async connect(url: string, headers?: Record<string, string>): Promise<TestClient> {
    const socket = new WebSocket(url, headers ? { headers } : undefined);
    await new Promise<void>((resolve, reject) => {
      socket.onopen = () => resolve();
      socket.onerror = (e) => reject(new Error(`websocket error: ${(e as ErrorEvent).message}`));
    });
    return new TestClient(websocketTransport(socket, { label: url }));
  }

  /** Wraps a spawned `serve --listen stdio` child. */
  static overStdio(child: Deno.ChildProcess): TestClient {
    return new TestClient(jsonLinesTransport({
      label: "test stdio",
      readable: child.stdout,
      writable: child.stdin,
    }));
  }

  /** Sends raw text. */
  sendRaw(text: string): Promise<void> {
    return this.transport.send(text);
  }

  /** Waits for the first message (already received or future) matching `match`. */
  waitFor(match: (m: Json) => boolean, timeoutMs = 5000): Promise<Json> {
    const found = this.received.find(match);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w.resolve !== wrapped);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for a message`));
      }, timeoutMs);
      const wrapped = (m: Json) => {
        clearTimeout(timer);
        resolve(m);
      };
      this.#waiters.push({ match, resolve: wrapped });
    });
  }

  /** Sends a request and returns the raw response or error message. */
  async request(method: string, params?: unknown, id?: string | number): Promise<Json> {
    const requestId = id ?? this.#nextId++;
    const message: Json = { id: requestId, method };
    if (params !== undefined) message.params = params;
    await this.transport.send(JSON.stringify(message));
    return this.waitFor((m) => m.id === requestId && !("method" in m), 15_000);
  }

  /** Sends a request; returns its result or throws {@link RpcCallError}. */
  async call(method: string, params?: unknown): Promise<Json> {
    const response = await this.request(method, params);
    if ("error" in response) {
      const error = response.error as { code: number; message: string };
      throw new RpcCallError(error.code, error.message);
    }
    return response.result as Json;
  }

  /** Sends a notification. */
  notify(method: string, params?: unknown): Promise<void> {
    return this.transport.send(
      JSON.stringify(params === undefined ? { method } : { method, params }),
    );
  }

  /** `initialize` + `initialized`; returns the initialize result. */
  async initialize(resumeSessionId?: string): Promise<Json> {
    const result = await this.call("initialize", {
      clientName: "test-client",
      ...(resumeSessionId ? { resumeSessionId } : {}),
    });
    await this.notify("initialized", {});
    return result;
  }

  /** Notifications with the given method. */
  notifications(method: string): Json[] {
    return this.received.filter((m) => m.method === method && !("id" in m)).map((m) =>
      m.params as Json
    );
  }

  async close(): Promise<void> {
    this.transport.close();
    await this.transport.closed;
    await this.done.catch(() => {});
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** Decodes a base64 chunk to text. */
export function b64text(chunk: string): string {
  return new TextDecoder().decode(Uint8Array.from(atob(chunk), (c) => c.charCodeAt(0)));
}

/** Encodes text as base64. */
export function textb64(text: string): string {
  return btoa(String.fromCharCode(...new TextEncoder().encode(text)));
}

/** Reads a process to completion through `process/read`; returns stdout+stderr text and exit. */
export async function readToClose(
  client: TestClient,
  processId: string,
  timeoutMs = 10_000,
): Promise<{ output: string; stdout: string; stderr: string; exitCode: number | null }> {
  let afterSeq = 0;
  let stdout = "", stderr = "", output = "";
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const r = await client.call("process/read", { processId, afterSeq, waitMs: 1000 });
    for (const c of r.chunks as { seq: number; stream: string; chunk: string }[]) {
      const text = b64text(c.chunk);
      output += text;
      if (c.stream === "stderr") stderr += text;
      else stdout += text;
    }
    afterSeq = (r.nextSeq as number) - 1;
    if (r.closed) return { output, stdout, stderr, exitCode: r.exitCode as number | null };
  }
  throw new Error(`process ${processId} did not close within ${timeoutMs} ms`);
}

/** Pids in process group `pgid` that are alive (not zombies). */
export function liveGroupMembers(pgid: number): number[] {
  const out = new Deno.Command("ps", { args: ["-eo", "pid=,pgid=,stat="] }).outputSync();
  return new TextDecoder().decode(out.stdout).split("\n").map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length === 3 && Number(f[1]) === pgid && !f[2].startsWith("Z"))
    .map((f) => Number(f[0]));
}

/** Whether a pid is alive and not a zombie. */
export function isAlive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

/** The `file:` URI of a path. */
export function fileUri(path: string): string {
  return new URL(`file://${path}`).href;
}
