/**
 * A helper process that runs confined and answers JSON lines: one request line in, one answer
 * line out, in order. Sandboxed `fs/*` calls use it so that the kernel, not our code, decides
 * what a path operation may do: the helper sees exactly the filesystem a confined command would.
 * @module
 */
import { ErrorCode, RpcError } from "../jsonrpc/errors.ts";
import { confineArgv, type ConfinedArgv } from "./confine.ts";
import type { ConfinementPlan } from "./plan.ts";
import type { SandboxRuntime } from "./runtime.ts";
import { concatBytes } from "../util/bytes.ts";

/** An answer line: a result or a JSON-RPC error object. */
export type WorkerAnswer = { result: unknown } | { error: { code: number; message: string } };

/** Options of {@link ConfinedWorker.start}. */
export interface ConfinedWorkerOptions {
  runtime: SandboxRuntime;
  /** The helper's environment (nothing else is inherited). */
  env: Record<string, string>;
  /** Native cwd inside the sandbox. Default `/`. */
  cwd?: string;
  /** Longest answer line accepted, in bytes (a bigger one is an error, not unbounded memory). */
  maxLineBytes?: number;
}

const DEFAULT_MAX_LINE = 1024 * 1024 * 1024;
/** How much of the helper's stderr is kept for the error when it dies. */
const STDERR_KEEP = 4096;

/**
 * One confined helper process.
 *
 * @example
 * ```ts
 * import type { SandboxRuntime } from "./runtime.ts";
 * import type { ConfinementPlan } from "./plan.ts";
 * declare const plan: ConfinementPlan;
 * declare const runtime: SandboxRuntime;
 * const worker = ConfinedWorker.start(plan, ["/usr/bin/deno", "run", "helper.ts"], { runtime, env: {} });
 * const answer = await worker.call({ method: "fs/readFile", params: { path: "file:///etc/hostname" } });
 * await worker.close();
 * ```
 */
export class ConfinedWorker {
  #child: Deno.ChildProcess;
  #confined: ConfinedArgv;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #lines: AsyncIterator<string>;
  #queue: Promise<unknown> = Promise.resolve();
  #stderr = "";
  #stderrDone: Promise<void>;
  #closed = false;

  private constructor(child: Deno.ChildProcess, confined: ConfinedArgv, maxLine: number) {
    this.#child = child;
    this.#confined = confined;
    this.#writer = child.stdin.getWriter();
    this.#writer.closed.catch(() => {});
    this.#lines = readLines(child.stdout, maxLine)[Symbol.asyncIterator]();
    this.#stderrDone = (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of child.stderr) {
        if (this.#stderr.length < STDERR_KEEP) this.#stderr += decoder.decode(chunk);
      }
    })().catch(() => {});
    child.status.finally(() => confined.release());
  }

  /** Starts `command` confined by `plan`. Throws -32603 when it cannot be started. */
  static start(
    plan: ConfinementPlan,
    command: string[],
    options: ConfinedWorkerOptions,
  ): ConfinedWorker {
    const cwd = options.cwd ?? "/";
    const confined = confineArgv(plan, command, { runtime: options.runtime, cwd, tty: false });
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command(confined.argv[0], {
        args: confined.argv.slice(1),
        cwd,
        clearEnv: true,
        env: options.env,
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
    } catch (err) {
      confined.release();
      throw new RpcError(ErrorCode.Internal, `cannot start the sandbox helper: ${err}`);
    }
    return new ConfinedWorker(child, confined, options.maxLineBytes ?? DEFAULT_MAX_LINE);
  }

  /** Host pid of the outermost process (bwrap); the helper runs below it. */
  get pid(): number {
    return this.#child.pid;
  }

  /** Sends one request and waits for its answer; calls are answered in order. */
  call(request: unknown): Promise<WorkerAnswer> {
    const next = this.#queue.then(() => this.#exchange(request));
    this.#queue = next.catch(() => {});
    return next;
  }

  async #exchange(request: unknown): Promise<WorkerAnswer> {
    if (this.#closed) throw new RpcError(ErrorCode.Internal, "the sandbox helper was closed");
    try {
      await this.#writer.write(new TextEncoder().encode(JSON.stringify(request) + "\n"));
    } catch {
      // The helper is gone; the read below reports why.
    }
    let line: IteratorResult<string>;
    try {
      line = await this.#lines.next();
    } catch (err) {
      this.kill();
      throw new RpcError(ErrorCode.Internal, `sandbox helper answer: ${(err as Error).message}`);
    }
    if (line.done) {
      await this.#stderrDone;
      const status = await this.#child.status;
      const why = this.#stderr.trim() || `exit code ${status.code}`;
      throw new RpcError(ErrorCode.Internal, `the sandbox helper failed: ${why}`);
    }
    return JSON.parse(line.value) as WorkerAnswer;
  }

  /** Kills the helper (and its sandbox) at once. */
  kill(): void {
    try {
      this.#child.kill("SIGKILL");
    } catch {
      // already exited
    }
  }

  /** Ends the helper: EOF on its stdin, then waits for it to exit. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#queue;
    await this.#writer.close().catch(() => {});
    await this.#child.status;
    await this.#stderrDone;
  }
}

async function* readLines(
  stream: ReadableStream<Uint8Array>,
  maxLine: number,
): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  for await (const chunk of stream) {
    let start = 0;
    for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, start)) {
      pending.push(chunk.subarray(start, i));
      const line = pending.length === 1
        ? pending[0]
        : concatBytes(pending, pendingBytes + i - start);
      pending = [];
      pendingBytes = 0;
      start = i + 1;
      yield decoder.decode(line);
    }
    if (start < chunk.length) {
      pending.push(chunk.slice(start));
      pendingBytes += chunk.length - start;
      if (pendingBytes > maxLine) throw new Error(`answer line over ${maxLine} bytes`);
    }
  }
}
