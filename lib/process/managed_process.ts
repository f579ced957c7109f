/**
 * One process of a session: its child, its gap-free event seq, its retained output and the
 * state `process/read` reports. Events are numbered at emission; notifications go to whatever
 * sink is attached at that moment (none while the session is detached).
 * @module
 */
import { Notification } from "../protocol/methods.ts";
import { encodeBase64 } from "../util/base64.ts";
import { JsonText } from "../jsonrpc/message.ts";
import { bulkTurn } from "../util/bulk_priority.ts";
import { SENT } from "../transport/types.ts";
import { OutputRetention, type RetainedChunk, type RetentionLimits } from "./output_retention.ts";
import type { DenialScanner } from "../sandbox/denial_scanner.ts";
import type { ChildHandle, OutputStream } from "./spawner.ts";

/** Delivers a notification to the attached client, if any. */
export type EventSink = (method: string, params: unknown) => Promise<void>;

/** Upstream reads child output in pieces of at most this many bytes; one notification each. */
export const OUTPUT_CHUNK_BYTES = 8192;
/** A pipe read returns at most a pipe buffer (64 KiB on Linux): the room kept for the next. */
const LARGEST_READ_BYTES = 64 * 1024;
/**
 * How long an exit waits for buffered output to drain so that it tends to follow that output:
 * while output keeps being read, up to {@link EXIT_DRAIN_MAX_MS}; after this long without a read
 * (a silent background child holds the pipe, or nobody is attached), at once.
 */
const EXIT_DRAIN_GRACE_MS = 20;
/** Microtask turns an exit gives its output to reach EOF before the grace timer is armed. */
const SETTLE_TURNS = 32;
/** The longest an exit waits behind output that keeps flowing (a background child still writing). */
const EXIT_DRAIN_MAX_MS = 500;
/** How many accepted writeIds are remembered per process. */
export const REMEMBERED_WRITE_IDS = 4096;

/** Options of {@link ManagedProcess}. */
export interface ManagedProcessOptions {
  retention: RetentionLimits;
  /** Returns the sink to notify now (changes as connections attach and detach). */
  sink: () => EventSink | null;
  /** Resolves when the sink next changes (attach or detach). */
  sinkChanged?: () => Promise<void>;
  /** Called once the process is closed (exit known and all output at EOF). */
  onClosed: () => void;
  /** Who reads this output (the session): its own requests do not slow the pumps. */
  owner?: object;
}

/**
 * @example
 * ```ts
 * import { DEFAULT_RETENTION } from "./output_retention.ts";
 * const p = new ManagedProcess("proc-1", { retention: DEFAULT_RETENTION, sink: () => null, onClosed() {} });
 * ```
 */
export class ManagedProcess {
  readonly id: string;
  child: ChildHandle | null = null;
  tty = false;
  exitCode: number | null = null;
  closed = false;
  /** Set when a terminate arrives while the child is still being spawned. */
  startCancelled = false;
  /** Set for a confined process: its output is watched for sandbox denials. */
  denials: DenialScanner | null = null;
  /** A non-zero exit whose output showed a sandbox denial (upstream's `sandboxDenied`). */
  sandboxDenied = false;
  #nextSeq = 1;
  #idJson: string;
  #retention: OutputRetention;
  #wake = Promise.withResolvers<void>();
  #writeIds = new Set<string>();
  #options: ManagedProcessOptions;
  #resume = Promise.withResolvers<void>();
  #neverPause = false;
  #childExited = false;

  constructor(id: string, options: ManagedProcessOptions) {
    this.id = id;
    this.#idJson = JSON.stringify(id);
    this.#options = options;
    this.#retention = new OutputRetention(options.retention);
  }

  /** The next unassigned seq (last event seq + 1). */
  get nextSeq(): number {
    return this.#nextSeq;
  }
  /** Whether the child is still being spawned. */
  get starting(): boolean {
    return this.child === null;
  }
  /** Whether the exit code is known. */
  get exited(): boolean {
    return this.exitCode !== null;
  }
  /**
   * Whether the child is known to have exited, possibly before {@link exitCode} is published
   * (the exit event waits briefly for output to drain): a terminate then has nothing to kill.
   */
  get childExited(): boolean {
    return this.#childExited;
  }
  /** Bytes of output currently retained. */
  get retainedBytes(): number {
    return this.#retention.bytes;
  }

  /** Resolves on the next event of this process. */
  changed(): Promise<void> {
    return this.#wake.promise;
  }

  /** Retained output after `afterSeq`, within a byte budget (spec §3.1.2). */
  select(afterSeq: number, maxBytes: number | undefined): RetainedChunk[] {
    this.#wakePumps();
    return this.#retention.select(afterSeq, maxBytes);
  }

  /** Reads the child to EOF from now on, attached or not (the process is being killed). */
  stopPausing(): void {
    this.#neverPause = true;
    this.#wakePumps();
  }

  #wakePumps(): void {
    const resume = this.#resume;
    this.#resume = Promise.withResolvers<void>();
    resume.resolve();
  }

  /**
   * Waits while nobody is attached and the next read would evict retained output: the pipe
   * (or terminal) then fills and the child blocks on write, so a detached flood costs no CPU
   * and a resuming client finds the output since the detach intact. Reading resumes at attach,
   * at a `process/read`, or when the process is killed.
   */
  async #pauseWhileDetachedAndFull(): Promise<void> {
    while (
      !this.#neverPause && this.#options.sink() === null &&
      !this.#retention.hasRoomFor(LARGEST_READ_BYTES)
    ) {
      const waits = [this.#resume.promise];
      if (this.#options.sinkChanged) waits.push(this.#options.sinkChanged());
      await Promise.race(waits);
    }
  }

  /** Records a writeId; false when it was already seen (the write must not be repeated). */
  rememberWrite(writeId: string): boolean {
    if (this.#writeIds.has(writeId)) return false;
    this.#writeIds.add(writeId);
    if (this.#writeIds.size > REMEMBERED_WRITE_IDS) {
      this.#writeIds.delete(this.#writeIds.values().next().value!);
    }
    return true;
  }

  /** Starts pumping the child's output and watching its exit. */
  attach(child: ChildHandle): void {
    this.child = child;
    let outputEnded = false;
    const drained = Promise.all(child.outputs.map((o) => this.#pump(o.stream, o.readable)))
      .then(() => {
        outputEnded = true;
      });
    const exited = child.exitCode.then(async (code) => {
      this.#childExited = true;
      await this.#drainAfterExit(drained);
      this.exitCode = code;
      this.sandboxDenied = code !== 0 && (this.denials?.seen ?? false);
      const sent = this.#emit(Notification.processExited, (seq) => ({
        processId: this.id,
        seq,
        exitCode: code,
        sandboxDenied: this.sandboxDenied,
      }));
      // Output already at EOF (most children): `closed` is sent right behind `exited`, before
      // anything else runs, so the two notifications (still two, in order) leave in one write.
      if (outputEnded) this.#close();
      await sent;
    });
    Promise.all([drained, exited]).then(() => this.#close());
  }

  #close(): void {
    if (this.closed) return;
    this.closed = true;
    const sent = this.#emit(Notification.processClosed, (seq) => ({ processId: this.id, seq }));
    if (sent) void sent.then(() => this.#options.onClosed());
    else this.#options.onClosed();
  }

  /**
   * A child can exit with up to a pipe's worth (1 MiB once grown) still unread; at 20-50 MiB/s on
   * a loaded machine that takes longer than one grace period, so the wait goes on while reads
   * progress.
   */
  async #drainAfterExit(drained: Promise<unknown>): Promise<void> {
    let done = false;
    void drained.then(() => done = true);
    // The reads right after an exit often find EOF a few microtask turns later (always, for a
    // child that printed nothing since its last read): no timer for those exits.
    for (let turn = 0; turn < SETTLE_TURNS && !done; turn++) await null;
    const deadline = performance.now() + EXIT_DRAIN_MAX_MS;
    while (!done && performance.now() < deadline) {
      const seen = this.#nextSeq;
      // Cleared when the output drains first (as it does for most children): a timer left
      // to fire costs every short-lived child a wake-up 20 ms later.
      let timer: ReturnType<typeof setTimeout> | undefined;
      const grace = new Promise<void>((resolve) =>
        timer = setTimeout(resolve, EXIT_DRAIN_GRACE_MS)
      );
      await Promise.race([drained, grace]);
      clearTimeout(timer);
      if (this.#nextSeq === seen) return;
    }
  }

  async #pump(stream: OutputStream, readable: AsyncIterable<Uint8Array>): Promise<void> {
    try {
      // Reads of a chatty child complete without yielding to the event loop, so the pump
      // yields itself between pieces once the pumps' shared slice is used up: other
      // connections' requests then wait about one slice (util/bulk_priority.ts).
      for await (const bytes of readable) {
        for (let at = 0; at < bytes.length; at += OUTPUT_CHUNK_BYTES) {
          const piece = bytes.subarray(at, at + OUTPUT_CHUNK_BYTES);
          this.denials?.push(piece);
          // Waits only while the transport holds the client back: otherwise the pieces of a
          // read go out back to back, and the socket writes them in one or two system calls
          // instead of one each.
          const sent = this.#emit(
            Notification.processOutput,
            (seq) =>
              new JsonText(
                `{"processId":${this.#idJson},"seq":${seq},"stream":"${stream}","chunk":"${
                  encodeBase64(piece)
                }"}`,
              ),
            (seq) => this.#retention.push({ seq, stream, bytes: piece }),
          );
          if (sent) await sent;
          const pause = bulkTurn(this.#options.owner);
          if (pause) await pause;
        }
        await this.#pauseWhileDetachedAndFull();
      }
    } catch {
      // A read error ends this stream like EOF; the exit still arrives through exitCode.
    }
  }

  /**
   * Numbers an event, records it, wakes long polls, and notifies the attached client; the
   * params are only built when someone is attached (a detached flood makes no garbage).
   */
  #emit(
    method: string,
    build: (seq: number) => unknown,
    record?: (seq: number) => void,
  ): Promise<void> | undefined {
    const seq = this.#nextSeq++;
    record?.(seq);
    const wake = this.#wake;
    this.#wake = Promise.withResolvers<void>();
    wake.resolve();
    const sink = this.#options.sink();
    if (!sink) return;
    // The client may go away mid-send; the event stays readable through process/read.
    let sent: Promise<void>;
    try {
      sent = sink(method, build(seq));
    } catch {
      return;
    }
    return sent === SENT ? undefined : sent.catch(() => {});
  }
}
