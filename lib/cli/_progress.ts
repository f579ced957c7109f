/**
 * A one-line progress bar with transfer rate on stderr, drawn only when stderr is a terminal.
 * @module
 */

const encoder = new TextEncoder();
const MIB = 1024 * 1024;

function terminalColumns(): number {
  try {
    const { columns } = Deno.consoleSize();
    return columns > 0 ? columns : 80;
  } catch {
    return 80;
  }
}

function formatBytes(n: number): string {
  if (n >= MIB) return `${(n / MIB).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}

/**
 * Options of {@link ProgressBar}.
 *
 * @example
 * ```ts
 * const options: ProgressBarOptions = { total: 1024, intervalMs: 250 };
 * ```
 */
export interface ProgressBarOptions {
  /** Total bytes, when known (draws a bar and a percentage). */
  total?: number;
  /** Draw even when stderr is not a terminal (tests). Default: `Deno.stderr.isTerminal()`. */
  enabled?: boolean;
  /** Minimum time between redraws (default 100 ms). */
  intervalMs?: number;
}

/**
 * @example
 * ```ts
 * const bar = new ProgressBar("get big.bin", { total: 100 * 2 ** 20 });
 * bar.advance(2 ** 20);
 * bar.finish();
 * ```
 */
export class ProgressBar {
  readonly label: string;
  #total: number | undefined;
  #enabled: boolean;
  #intervalMs: number;
  #done = 0;
  #started = performance.now();
  #lastDraw = 0;
  #finished = false;

  constructor(label: string, options: ProgressBarOptions = {}) {
    this.label = label;
    this.#total = options.total;
    this.#enabled = options.enabled ?? Deno.stderr.isTerminal();
    this.#intervalMs = options.intervalMs ?? 100;
  }

  /** Bytes transferred so far. */
  get transferred(): number {
    return this.#done;
  }

  /** Counts `bytes` more and redraws if due. */
  advance(bytes: number): void {
    this.#done += bytes;
    const now = performance.now();
    if (now - this.#lastDraw >= this.#intervalMs) {
      this.#lastDraw = now;
      this.#draw(now);
    }
  }

  /** Draws the final state and ends the line. */
  finish(): void {
    if (!this.#enabled || this.#finished) return;
    this.#finished = true;
    this.#draw(performance.now());
    this.#write("\n");
  }

  #draw(now: number): void {
    if (!this.#enabled) return;
    const seconds = Math.max((now - this.#started) / 1000, 0.001);
    const rate = `${formatBytes(this.#done / seconds)}/s`;
    const columns = terminalColumns();
    let line: string;
    if (this.#total && this.#total > 0) {
      const fraction = Math.min(1, this.#done / this.#total);
      const figures = `${(fraction * 100).toFixed(0).padStart(3)}% ${formatBytes(this.#done)} / ` +
        `${formatBytes(this.#total)} ${rate}`;
      // The bar takes what is left of the line (up to 24 cells): a wrapped line would repeat
      // on every redraw instead of overwriting itself.
      const width = Math.min(24, columns - 1 - this.label.length - figures.length - 4);
      const filled = Math.round(fraction * Math.max(width, 0));
      line = width >= 4
        ? `${this.label} [${"#".repeat(filled)}${"-".repeat(width - filled)}] ${figures}`
        : `${this.label} ${figures}`;
    } else {
      line = `${this.label} ${formatBytes(this.#done)} ${rate}`;
    }
    if (line.length > columns - 1) line = line.slice(0, Math.max(columns - 1, 1));
    this.#write(`\r\x1b[2K${line}`);
  }

  #write(text: string): void {
    try {
      Deno.stderr.writeSync(encoder.encode(text));
    } catch {
      this.#enabled = false;
    }
  }
}
