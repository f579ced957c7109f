/**
 * A process started through {@link ExecServerClient.start}: its output as an async iterable in
 * seq order, its exit code, and the calls that act on it.
 * @module
 */
import { Method } from "../protocol/methods.ts";
import type { OutputStream, ProcessSignal, WriteStatus } from "../protocol/process.ts";

export type { ProcessSignal, WriteStatus };
import { encodeBase64 } from "../util/base64.ts";
import { AsyncQueue } from "../util/async_queue.ts";
import { type ProcessEvent, type ReplayBatch, Sequencer } from "./_sequencer.ts";
import type { ProcessFailedError } from "./errors.ts";

/**
 * One chunk of output. `stream` is `pty` for a terminal process.
 *
 * @example
 * ```ts
 * declare const proc: ExecProcess;
 * for await (const chunk of proc) console.log(chunk.seq, chunk.stream, chunk.data.length);
 * ```
 */
export interface OutputChunk {
  seq: number;
  stream: OutputStream;
  data: Uint8Array;
}

/**
 * What a process needs from its client.
 *
 * @example
 * ```ts
 * import type { ExecServerClient } from "./client.ts";
 * declare const client: ExecServerClient;
 * const host: ProcessHost = { call: (method, params) => client.call(method, params) };
 * ```
 */
export interface ProcessHost {
  call(method: string, params: unknown): Promise<unknown>;
}

const encoder = new TextEncoder();

/**
 * @example
 * ```ts
 * import { ExecServerClient } from "./mod.ts";
 * await using client = await ExecServerClient.connect("ws://127.0.0.1:4000");
 * const proc = await client.start(["sh", "-c", "echo hi; exit 3"]);
 * for await (const chunk of proc) await Deno.stdout.write(chunk.data);
 * console.log(await proc.wait()); // 3
 * ```
 */
export class ExecProcess implements AsyncIterable<OutputChunk> {
  /** The client-chosen process id. */
  readonly id: string;
  /** Whether the process runs under a PTY. */
  readonly tty: boolean;
  #host: ProcessHost;
  #sequencer: Sequencer;
  #queue = new AsyncQueue<OutputChunk>();
  #exit = Promise.withResolvers<number>();
  #closed = Promise.withResolvers<void>();
  #exitCode: number | null = null;
  #done = false;
  #published = 0;
  #failure: ProcessFailedError | null = null;
  /** Set while `process/start` is in flight (recovery must not replay it yet). */
  starting = true;

  /** @internal Created by the client, which routes events to it. */
  constructor(id: string, options: { host: ProcessHost; tty: boolean }) {
    this.id = id;
    this.tty = options.tty;
    this.#host = options.host;
    this.#sequencer = new Sequencer((event) => this.#publish(event));
    // Nobody may be waiting; a failure must not become an unhandled rejection.
    this.#exit.promise.catch(() => {});
    this.#closed.promise.catch(() => {});
  }

  /** The exit code once the exit event was delivered, else `null`. */
  get exitCode(): number | null {
    return this.#exitCode;
  }

  /** Whether the process is closed (or failed): no more events will come. */
  get done(): boolean {
    return this.#done;
  }

  /**
   * How many output chunks the iterator has been given so far (consumed or still queued); read
   * at exit, it tells which chunks the program wrote before it exited.
   */
  get outputChunks(): number {
    return this.#published;
  }

  /** Highest seq delivered in order. */
  get lastSeq(): number {
    return this.#sequencer.lastSeq;
  }

  /** Output chunks in seq order; ends at `process/closed`, throws {@link ProcessFailedError}. */
  async *[Symbol.asyncIterator](): AsyncIterator<OutputChunk> {
    for await (const chunk of this.#queue) yield chunk;
    if (this.#failure) throw this.#failure;
  }

  /** Resolves with the exit code (128+N for a death by signal N in pipe mode). */
  wait(): Promise<number> {
    return this.#exit.promise;
  }

  /** Resolves once the process is closed: exited and all its output delivered. */
  get closed(): Promise<void> {
    return this.#closed.promise;
  }

  /**
   * Writes to stdin (or the PTY). Every call gets a fresh `writeId`, reused if the call has to
   * be retried after a reconnect so the bytes land once.
   */
  async write(data: Uint8Array | string): Promise<WriteStatus> {
    const bytes = typeof data === "string" ? encoder.encode(data) : data;
    const result = await this.#host.call(Method.processWrite, {
      processId: this.id,
      chunk: encodeBase64(bytes),
      writeId: crypto.randomUUID(),
    }) as { status: WriteStatus };
    return result.status;
  }

  /** End of input: EOF on a stdin pipe, ^D on a PTY (needs capability `processCloseStdin`). */
  async closeStdin(): Promise<string> {
    const result = await this.#host.call(Method.processCloseStdin, { processId: this.id }) as {
      status: string;
    };
    return result.status;
  }

  /** Resizes the PTY (needs capability `processResize`). */
  async resize(size: { rows: number; cols: number }): Promise<string> {
    const result = await this.#host.call(Method.processResize, {
      processId: this.id,
      rows: size.rows,
      cols: size.cols,
    }) as { status?: string };
    return result.status ?? "accepted";
  }

  /** Sends a signal to the process group. */
  async signal(signal: ProcessSignal = "interrupt"): Promise<void> {
    await this.#host.call(Method.processSignal, { processId: this.id, signal });
  }

  /** Kills the process group; resolves with whether it was still running. */
  async terminate(): Promise<boolean> {
    const result = await this.#host.call(Method.processTerminate, { processId: this.id }) as {
      running: boolean;
    };
    return result.running;
  }

  #publish(event: ProcessEvent): void {
    if (this.#done) return;
    switch (event.kind) {
      case "output":
        this.#published++;
        this.#queue.push({ seq: event.seq, stream: event.stream, data: event.data });
        break;
      case "exited":
        this.#exitCode = event.exitCode;
        this.#exit.resolve(event.exitCode);
        break;
      case "closed":
        this.#done = true;
        this.#queue.close();
        // A closed process always has an exit before it; guard against a server that skips it.
        this.#exit.resolve(this.#exitCode ?? -1);
        this.#closed.resolve();
        break;
    }
  }

  /** @internal Routes a notification. */
  accept(event: ProcessEvent): void {
    if (!this.#done) this.#sequencer.accept(event);
  }

  /** @internal Merges a replay read; returns the first lost seq, if any. */
  replay(batch: ReplayBatch): number | null {
    if (this.#done) return null;
    return this.#sequencer.replay(batch);
  }

  /** @internal Ends the event stream with an error. */
  fail(error: ProcessFailedError): void {
    if (this.#done) return;
    this.#done = true;
    this.#failure = error;
    this.#queue.close();
    this.#exit.reject(error);
    this.#closed.reject(error);
  }
}
