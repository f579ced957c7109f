/**
 * Interactive requests before bulk output, on the one JS thread they share. Every JSON-RPC
 * request a server answers marks the time; output pumps ask {@link bulkYield} between reads.
 * While requests keep arriving, a pump works in short slices and sleeps a timer tick between
 * reads, so a quiet connection's request waits for at most one slice instead of competing with
 * a flood for the thread (and, on a busy machine, for a CPU the flood keeps the process asking
 * for). Alone, a pump runs at full speed.
 * @module
 */
import { delay, yieldToEventLoop } from "./async.ts";

/** How long after the last request a pump keeps deferring to interactive traffic. */
const INTERACTIVE_WINDOW_MS = 100;
/** A read at least this large means more output is already waiting: the producer floods. */
const BULK_READ_BYTES = 16 * 1024;
/** Slice lengths of a pump, with and without recent interactive traffic. */
const SLICE_MS = { interactive: 0.1, alone: 0.5 } as const;

let lastRequestAt = -Infinity;

/**
 * Notes an interactive request (call once per request answered).
 *
 * @example
 * ```ts
 * markInteractive();
 * ```
 */
export function markInteractive(): void {
  lastRequestAt = performance.now();
}

function interactive(): boolean {
  return performance.now() - lastRequestAt < INTERACTIVE_WINDOW_MS;
}

/**
 * How long a bulk producer may run before it yields (milliseconds).
 *
 * @example
 * ```ts
 * const sliceEnd = performance.now() + bulkSliceMs();
 * ```
 */
export function bulkSliceMs(): number {
  return interactive() ? SLICE_MS.interactive : SLICE_MS.alone;
}

/**
 * Lets other work in between two reads of a bulk producer that just read `readBytes`: a timer
 * tick (the thread sleeps) when that read was large and interactive requests arrive, else the
 * next event-loop turn (small output, and an EOF after it, stay as prompt as before).
 *
 * @example
 * ```ts
 * await bulkYield(64 * 1024);
 * ```
 */
export function bulkYield(readBytes: number): Promise<void> {
  return readBytes >= BULK_READ_BYTES && interactive() ? delay(1) : yieldToEventLoop();
}
