/**
 * A session's processes by client-chosen id: start, read (long poll), write, signal, terminate,
 * and the retention rules of spec §3.1.
 * @module
 */
import { invalidRequest, RpcError } from "../jsonrpc/errors.ts";
import { settleWithin } from "../util/async.ts";
import { encodeBase64 } from "../util/base64.ts";
import { ensureReaper } from "./_reaper.ts";
import { DenialScanner } from "../sandbox/denial_scanner.ts";
import { type EventSink, ManagedProcess } from "./managed_process.ts";
import { DEFAULT_RETENTION, type RetentionLimits } from "./output_retention.ts";
import type { Spawner, SpawnRequest } from "./spawner.ts";
import type { ControlStatus, ReadResult, WriteStatus } from "../protocol/process.ts";

/** Options of {@link ProcessTable}. */
export interface ProcessTableOptions {
  /** Backends by mode; `pty` may be absent on platforms without one. */
  spawners: { pipe: Spawner; pty?: Spawner };
  retention?: RetentionLimits;
  /** How long a closed process stays readable (upstream: 30 s). */
  closedRetentionMs?: number;
  /** Where notifications go now; null while no client is attached (events are only retained). */
  sink?: () => EventSink | null;
  /** Resolves when `sink` next changes; a paused output pump re-checks then. */
  sinkChanged?: () => Promise<void>;
  /** Who reads this output (the session): its own requests do not slow the output pumps. */
  owner?: object;
}

/** What `process/start` asks for, after path and env resolution. */
export interface StartRequest extends SpawnRequest {
  processId: string;
  tty: boolean;
  /**
   * Set when the command runs confined: its output is watched for denials (`sandboxDenied`),
   * and `release` runs once it has exited (or failed to start).
   */
  confinement?: { release(): void };
}

/**
 * @example
 * ```ts
 * import { PipeSpawner } from "./pipe_spawner.ts";
 * const table = new ProcessTable({ spawners: { pipe: new PipeSpawner() } });
 * ```
 */
export class ProcessTable implements Disposable {
  #processes = new Map<string, ManagedProcess>();
  #options:
    & Required<Omit<ProcessTableOptions, "spawners" | "sink" | "sinkChanged" | "owner">>
    & ProcessTableOptions;
  /**
   * Closed processes awaiting removal, in closing order (so in deadline order: all wait the same
   * time); one timer, for the first, instead of one per process.
   */
  #retained: { proc: ManagedProcess; until: number }[] = [];
  #removalTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(options: ProcessTableOptions) {
    this.#options = {
      retention: DEFAULT_RETENTION,
      closedRetentionMs: 30_000,
      ...options,
    };
  }

  /** Looks up a process. */
  get(processId: string): ManagedProcess | undefined {
    return this.#processes.get(processId);
  }

  /** Starts a process; the id must not be live or retained. */
  async start(request: StartRequest): Promise<void> {
    const { processId } = request;
    if (this.#processes.has(processId)) {
      throw invalidRequest(`process ${processId} already exists`);
    }
    const spawner = request.tty ? this.#options.spawners.pty : this.#options.spawners.pipe;
    // Before the first child forks: from then on every descendant dies with the server.
    ensureReaper();
    if (!spawner) throw new RpcError(-32603, "PTY processes are not supported on this platform");
    const proc = new ManagedProcess(processId, {
      retention: this.#options.retention,
      sink: () => this.#options.sink?.() ?? null,
      sinkChanged: this.#options.sinkChanged,
      owner: this.#options.owner,
      onClosed: () => this.#scheduleRemoval(proc),
    });
    proc.tty = request.tty;
    if (request.confinement) proc.denials = new DenialScanner();
    this.#processes.set(processId, proc);
    let child;
    try {
      child = await spawner.spawn(request);
    } catch (err) {
      if (this.#processes.get(processId) === proc) this.#processes.delete(processId);
      request.confinement?.release();
      throw err;
    }
    if (request.confinement) child.exitCode.finally(() => request.confinement!.release());
    if (proc.startCancelled) {
      child.signalGroup("SIGKILL");
      throw invalidRequest(`process ${processId} start was cancelled`);
    }
    proc.attach(child);
  }

  /** `process/read` (spec §3.1.2). `signal` aborts the long poll (eviction, disconnect). */
  async read(
    params: {
      processId: string;
      afterSeq?: number | null;
      maxBytes?: number | null;
      waitMs?: number | null;
    },
    signal?: AbortSignal,
  ): Promise<ReadResult> {
    const afterSeq = params.afterSeq ?? 0;
    const maxBytes = params.maxBytes ?? undefined;
    const deadline = Date.now() + (params.waitMs ?? 0);
    while (true) {
      const proc = this.#processes.get(params.processId);
      if (!proc) throw invalidRequest(`unknown process id ${params.processId}`);
      if (proc.starting) throw invalidRequest(`process id ${params.processId} is starting`);
      const changed = proc.changed();
      const chunks = proc.select(afterSeq, maxBytes);
      const nextSeq = maxBytes !== undefined && chunks.length > 0
        ? chunks[chunks.length - 1].seq + 1
        : proc.nextSeq;
      const remaining = deadline - Date.now();
      if (
        chunks.length > 0 || proc.closed || (proc.exited && afterSeq < nextSeq - 1) ||
        remaining <= 0
      ) {
        return {
          chunks: chunks.map((c) => ({
            seq: c.seq,
            stream: c.stream,
            chunk: encodeBase64(c.bytes),
          })),
          nextSeq,
          exited: proc.exited,
          exitCode: proc.exitCode,
          closed: proc.closed,
          failure: null,
          sandboxDenied: proc.sandboxDenied,
        };
      }
      await settleWithin(changed, remaining, signal);
    }
  }

  /** `process/write`: queues bytes unless the writeId was seen before. */
  async write(
    processId: string,
    bytes: Uint8Array,
    writeId: string | undefined,
  ): Promise<WriteStatus> {
    const proc = this.#processes.get(processId);
    if (!proc) return "unknownProcess";
    if (proc.starting) return "starting";
    const child = proc.child!;
    if (!child.hasStdin) return "stdinClosed";
    if (writeId !== undefined && !proc.rememberWrite(writeId)) return "accepted";
    try {
      await child.write(bytes);
    } catch {
      // Upstream swallows writes to a child that is exiting; a closed stdin pipe is reported.
      if (!proc.exited) return "stdinClosed";
    }
    return "accepted";
  }

  /**
   * Sends a signal to a running process's group. Unknown, starting or exited processes are a
   * no-op, told apart by the status (as `process/write` does), never an error.
   */
  signal(processId: string, signal: Deno.Signal): ControlStatus {
    const status = this.#controlStatus(processId);
    if (status === "accepted") this.#processes.get(processId)!.child!.signalGroup(signal);
    return status;
  }

  /** `process/resize`: sets a PTY's window size; `notTty` for a pipe process. */
  resize(processId: string, size: { rows: number; cols: number }): ControlStatus | "notTty" {
    const status = this.#controlStatus(processId);
    if (status !== "accepted") return status;
    const child = this.#processes.get(processId)!.child!;
    if (!child.resize) return "notTty";
    child.resize(size.rows, size.cols);
    return "accepted";
  }

  /** `process/closeStdin`: EOF on a stdin pipe, ^D on a PTY; `stdinClosed` without a stdin. */
  async closeStdin(processId: string): Promise<ControlStatus | "stdinClosed"> {
    const status = this.#controlStatus(processId);
    if (status !== "accepted") return status;
    const child = this.#processes.get(processId)!.child!;
    if (!child.hasStdin) return "stdinClosed";
    await child.closeStdin().catch(() => {});
    return "accepted";
  }

  #controlStatus(processId: string): ControlStatus {
    const proc = this.#processes.get(processId);
    if (!proc) return "unknownProcess";
    if (proc.starting) return "starting";
    return proc.exited ? "exited" : "accepted";
  }

  /** `process/terminate`: SIGKILL to the group; `running` tells whether it was still running. */
  terminate(processId: string): { running: boolean } {
    const proc = this.#processes.get(processId);
    if (!proc) return { running: false };
    if (proc.starting) {
      proc.startCancelled = true;
      this.#processes.delete(processId);
      return { running: true };
    }
    // Once the child is reaped the answer is `running: false` even while its exit event still
    // waits for output to drain: answering true would promise a kill whose exit code (the
    // child's own) the client then sees contradict it.
    if (proc.exited || proc.childExited) return { running: false };
    proc.child!.signalGroup("SIGKILL");
    return { running: true };
  }

  /** Kills every process group and forgets all processes (session expiry, shutdown). */
  [Symbol.dispose](): void {
    this.killAll();
  }

  /** Kills every process group of the table. */
  killAll(): void {
    for (const proc of this.#processes.values()) {
      if (proc.starting) proc.startCancelled = true;
      else if (!proc.closed) proc.child!.signalGroup("SIGKILL");
      // Nobody will attach again: drain to EOF so the pipes are closed.
      proc.stopPausing();
    }
    this.#processes.clear();
    clearTimeout(this.#removalTimer);
    this.#removalTimer = undefined;
    this.#retained = [];
  }

  /** Number of processes live or retained. */
  get size(): number {
    return this.#processes.size;
  }

  #scheduleRemoval(proc: ManagedProcess): void {
    this.#retained.push({ proc, until: performance.now() + this.#options.closedRetentionMs });
    if (this.#removalTimer === undefined) this.#armRemoval();
  }

  #armRemoval(): void {
    const wait = Math.max(0, this.#retained[0].until - performance.now());
    this.#removalTimer = setTimeout(() => {
      this.#removalTimer = undefined;
      const now = performance.now();
      let expired = 0;
      while (expired < this.#retained.length && this.#retained[expired].until <= now) {
        const { proc } = this.#retained[expired++];
        if (this.#processes.get(proc.id) === proc) this.#processes.delete(proc.id);
      }
      this.#retained.splice(0, expired);
      if (this.#retained.length > 0) this.#armRemoval();
    }, wait);
    Deno.unrefTimer(this.#removalTimer);
  }
}
