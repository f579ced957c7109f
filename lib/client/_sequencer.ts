/**
 * Per-process event ordering: events arrive out of seq order (spec §2.2) and, after a
 * recovery, twice (notification and replay). The sequencer publishes each seq exactly once, in
 * order, and works out from a `process/read` answer which seqs it can never get back.
 * @module
 */
import type { OutputStream } from "../protocol/process.ts";

/**
 * One process event as the client publishes it.
 *
 * @example
 * ```ts
 * const event: ProcessEvent = { kind: "exited", seq: 3, exitCode: 0 };
 * ```
 */
export type ProcessEvent =
  | { kind: "output"; seq: number; stream: OutputStream; data: Uint8Array }
  | { kind: "exited"; seq: number; exitCode: number }
  | { kind: "closed"; seq: number };

/**
 * What `process/read` reported, decoded.
 *
 * @example
 * ```ts
 * const batch: ReplayBatch = { chunks: [], nextSeq: 3, exited: true, exitCode: 0, closed: true };
 * ```
 */
export interface ReplayBatch {
  chunks: Extract<ProcessEvent, { kind: "output" }>[];
  nextSeq: number;
  exited: boolean;
  exitCode: number | null;
  closed: boolean;
}

/**
 * @example
 * ```ts
 * const s = new Sequencer((e) => console.log(e.seq));
 * s.accept({ kind: "closed", seq: 2 });
 * s.accept({ kind: "exited", seq: 1, exitCode: 0 }); // publishes 1, then 2
 * ```
 */
export class Sequencer {
  /** Highest seq published; everything at or below it was published once. */
  lastSeq = 0;
  #pending = new Map<number, ProcessEvent>();
  #publish: (event: ProcessEvent) => void;
  #sawExit = false;
  #sawClosed = false;

  constructor(publish: (event: ProcessEvent) => void) {
    this.#publish = publish;
  }

  /** Events held back waiting for a lower seq. */
  get pendingCount(): number {
    return this.#pending.size;
  }

  /** Takes one event; publishes it and any held successors once contiguous. Drops duplicates. */
  accept(event: ProcessEvent): void {
    if (event.seq <= this.lastSeq || this.#pending.has(event.seq)) return;
    if (event.kind === "exited") this.#sawExit = true;
    if (event.kind === "closed") this.#sawClosed = true;
    this.#pending.set(event.seq, event);
    for (;;) {
      const next = this.#pending.get(this.lastSeq + 1);
      if (!next) break;
      this.#pending.delete(next.seq);
      this.lastSeq = next.seq;
      this.#publish(next);
    }
  }

  /**
   * Merges a `process/read {afterSeq: lastSeq}` answer. `process/read` returns output chunks
   * only; exit and close events are reported as flags, so their seqs are inferred: `closed` is
   * always the last seq (`nextSeq - 1`) and the exit takes the one remaining hole. Returns the
   * first seq that was evicted from the server's buffer, or `null` if nothing is lost.
   */
  replay(batch: ReplayBatch): number | null {
    for (const chunk of batch.chunks) this.accept(chunk);
    const missing: number[] = [];
    for (let seq = this.lastSeq + 1; seq < batch.nextSeq; seq++) {
      if (!this.#pending.has(seq)) missing.push(seq);
    }
    const needClosed = batch.closed && !this.#sawClosed;
    const needExit = batch.exited && !this.#sawExit;
    const explained = (needClosed ? 1 : 0) + (needExit ? 1 : 0);
    if (missing.length > explained) return missing[0];
    if (needClosed && missing.at(-1) === batch.nextSeq - 1) {
      const seq = missing.pop()!;
      if (needExit && missing.length === 1) {
        this.accept({ kind: "exited", seq: missing.pop()!, exitCode: batch.exitCode ?? -1 });
      }
      this.accept({ kind: "closed", seq });
    } else if (needExit && missing.length === 1) {
      this.accept({ kind: "exited", seq: missing[0], exitCode: batch.exitCode ?? -1 });
    }
    return null;
  }
}
