/**
 * What a process keeps of its output for `process/read`: at most 1 MiB and 50,000 chunks,
 * oldest evicted first (spec §3.1.2).
 * @module
 */
import type { OutputStream } from "./spawner.ts";

/** One retained output chunk. */
export interface RetainedChunk {
  seq: number;
  stream: OutputStream;
  bytes: Uint8Array;
}

/** Limits of {@link OutputRetention}. */
export interface RetentionLimits {
  maxBytes: number;
  maxChunks: number;
}

/** Upstream's limits. */
export const DEFAULT_RETENTION: RetentionLimits = { maxBytes: 1024 * 1024, maxChunks: 50_000 };

/**
 * A FIFO of chunks bounded by bytes and count.
 *
 * @example
 * ```ts
 * const r = new OutputRetention(DEFAULT_RETENTION);
 * r.push({ seq: 1, stream: "stdout", bytes: new Uint8Array(3) });
 * ```
 */
export class OutputRetention {
  /** Evicted slots (before `#head`) are cleared so their bytes can be collected at once. */
  #chunks: (RetainedChunk | undefined)[] = [];
  #head = 0;
  #bytes = 0;
  readonly #limits: RetentionLimits;

  constructor(limits: RetentionLimits) {
    this.#limits = limits;
  }

  /** Bytes currently retained. */
  get bytes(): number {
    return this.#bytes;
  }

  /**
   * Whether `bytes` more would fit without evicting anything.
   *
   * @example
   * ```ts
   * declare const retention: OutputRetention;
   * if (!retention.hasRoomFor(8192)) console.log("the next read would evict output");
   * ```
   */
  hasRoomFor(bytes: number): boolean {
    return this.#bytes + bytes <= this.#limits.maxBytes &&
      this.#chunks.length - this.#head < this.#limits.maxChunks;
  }

  /** Appends a chunk, evicting the oldest ones past the limits. */
  push(chunk: RetainedChunk): void {
    this.#chunks.push(chunk);
    this.#bytes += chunk.bytes.length;
    while (
      this.#chunks.length - this.#head > 0 &&
      (this.#bytes > this.#limits.maxBytes ||
        this.#chunks.length - this.#head > this.#limits.maxChunks)
    ) {
      this.#bytes -= this.#chunks[this.#head]!.bytes.length;
      // Dropped now, not at the next compaction: up to 1,024 evicted 8 KiB chunks per process
      // (8 MiB each, 800 MiB for 100 flooding processes) stayed reachable until then.
      this.#chunks[this.#head++] = undefined;
    }
    // Compact lazily so eviction stays O(1) amortized.
    if (this.#head > 1024 && this.#head * 2 > this.#chunks.length) {
      this.#chunks = this.#chunks.slice(this.#head);
      this.#head = 0;
    }
  }

  /**
   * Chunks with seq > afterSeq: always the first, then until the budget would be exceeded
   * (spec §3.1.2 step 2).
   */
  select(afterSeq: number, maxBytes: number | undefined): RetainedChunk[] {
    const out: RetainedChunk[] = [];
    let total = 0;
    let lo = this.#head, hi = this.#chunks.length;
    while (lo < hi) { // first index with seq > afterSeq
      const mid = (lo + hi) >>> 1;
      if (this.#chunks[mid]!.seq <= afterSeq) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < this.#chunks.length; i++) {
      const chunk = this.#chunks[i]!;
      if (maxBytes !== undefined && out.length > 0) {
        if (total >= maxBytes || total + chunk.bytes.length > maxBytes) break;
      }
      out.push(chunk);
      total += chunk.bytes.length;
    }
    return out;
  }
}
