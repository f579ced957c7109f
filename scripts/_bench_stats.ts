/**
 * Benchmark result shapes, summary statistics and the printed table.
 * @module
 */

/** min / median / p99 of one column's samples. */
export interface Summary {
  n: number;
  min: number;
  median: number;
  p99: number;
}

/** One column of a line: measured, or skipped with the reason. */
export type Column = Summary | { skipped: string };

/** One benchmark line: us, the floor and upstream side by side. */
export interface LineResult {
  id: string;
  title: string;
  unit: string;
  /** Whether smaller numbers are better (latency, memory) or larger (throughput). */
  better: "lower" | "higher";
  us: Column;
  floor: Column;
  floorLabel: string;
  upstream: Column;
  /** Median ratios; null when a column is missing. */
  usOverFloor: number | null;
  usOverUpstream: number | null;
  /** The issue's targets for this line and whether each was met. */
  targets: { text: string; met: boolean | null }[];
  note?: string;
}

/** Samples of a column, or why there are none. */
export type Samples = number[] | { skipped: string };

/**
 * Nearest-rank summary of samples.
 *
 * @example
 * ```ts
 * summarize([3, 1, 2]); // { n: 3, min: 1, median: 2, p99: 3 }
 * ```
 */
export function summarize(samples: number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
  return { n: sorted.length, min: sorted[0], median: rank(0.5), p99: rank(0.99) };
}

function column(samples: Samples): Column {
  if (!Array.isArray(samples)) return samples;
  if (samples.length === 0) return { skipped: "no samples" };
  return summarize(samples);
}

function median(c: Column): number | null {
  return "skipped" in c ? null : c.median;
}

/** A target on one ratio: `us/floor <= 2` is `{ ratio: "floor", op: "<=", value: 2 }`. */
export interface Target {
  ratio: "floor" | "upstream" | "absolute";
  op: "<=" | ">=";
  value: number;
  /** For `absolute`: which statistic of the us column is compared. */
  stat?: "median" | "p99";
}

/** Options of {@link makeLine}. */
export interface MakeLineOptions {
  id: string;
  title: string;
  unit: string;
  better: "lower" | "higher";
  us: Samples;
  floor: Samples;
  floorLabel: string;
  upstream: Samples;
  targets: Target[];
  note?: string;
}

/**
 * Builds a line result: summaries, median ratios and target verdicts.
 *
 * @example
 * ```ts
 * makeLine({ id: "rpc", title: "RPC", unit: "ms", better: "lower", us: [1], floor: [0.5],
 *   floorLabel: "echo", upstream: [1], targets: [{ ratio: "floor", op: "<=", value: 2 }] });
 * ```
 */
export function makeLine(options: MakeLineOptions): LineResult {
  const us = column(options.us);
  const floor = column(options.floor);
  const upstream = column(options.upstream);
  const u = median(us);
  const f = median(floor);
  const up = median(upstream);
  const usOverFloor = u !== null && f !== null && f > 0 ? u / f : null;
  const usOverUpstream = u !== null && up !== null && up > 0 ? u / up : null;
  const targets = options.targets.map((t) => {
    let value: number | null;
    let text: string;
    if (t.ratio === "absolute") {
      value = "skipped" in us ? null : us[t.stat ?? "median"];
      text = `${t.stat ?? "median"} ${t.op} ${t.value} ${options.unit}`;
    } else {
      value = t.ratio === "floor" ? usOverFloor : usOverUpstream;
      text = `us/${t.ratio} ${t.op} ${t.value}`;
    }
    const met = value === null ? null : t.op === "<=" ? value <= t.value : value >= t.value;
    return { text, met };
  });
  return {
    id: options.id,
    title: options.title,
    unit: options.unit,
    better: options.better,
    us,
    floor,
    floorLabel: options.floorLabel,
    upstream,
    usOverFloor,
    usOverUpstream,
    targets,
    ...(options.note ? { note: options.note } : {}),
  };
}

function num(x: number): string {
  if (x >= 100) return x.toFixed(0);
  if (x >= 10) return x.toFixed(1);
  if (x >= 1) return x.toFixed(2);
  return x.toFixed(3);
}

function cell(c: Column): string {
  return "skipped" in c ? "skipped" : `${num(c.min)} / ${num(c.median)} / ${num(c.p99)}`;
}

function ratio(r: number | null): string {
  return r === null ? "-" : `${r.toFixed(2)}x`;
}

/**
 * Renders lines as a fixed-width table followed by skip reasons and notes.
 *
 * @example
 * ```ts
 * console.log(renderTable(lines));
 * ```
 */
export function renderTable(lines: LineResult[]): string {
  const header = [
    "line",
    "unit",
    "us min/med/p99",
    "floor min/med/p99",
    "upstream min/med/p99",
    "us/floor",
    "us/up",
    "targets",
  ];
  const rows = lines.map((l) => [
    l.title,
    l.unit,
    cell(l.us),
    cell(l.floor),
    cell(l.upstream),
    ratio(l.usOverFloor),
    ratio(l.usOverUpstream),
    l.targets.map((t) => `${t.text} ${t.met === null ? "n/a" : t.met ? "MET" : "MISSED"}`)
      .join("; "),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const fmt = (r: string[]) => r.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd();
  const out = [fmt(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(fmt)];
  const notes: string[] = [];
  for (const l of lines) {
    notes.push(`- ${l.title}: floor = ${l.floorLabel}`);
    for (const [name, c] of [["us", l.us], ["floor", l.floor], ["upstream", l.upstream]] as const) {
      if ("skipped" in c) notes.push(`  ${name} skipped: ${c.skipped}`);
    }
    if (l.note) notes.push(`  note: ${l.note}`);
  }
  return [...out, "", ...notes].join("\n");
}

/**
 * Renders lines as a Markdown table (for the README), medians with min–p99 in brackets.
 *
 * @example
 * ```ts
 * console.log(renderMarkdown(lines));
 * ```
 */
export function renderMarkdown(lines: LineResult[]): string {
  const md = (c: Column) =>
    "skipped" in c ? "skipped" : `${num(c.median)} (${num(c.min)}–${num(c.p99)})`;
  const rows = lines.map((l) =>
    `| ${l.title} | ${l.unit} | ${md(l.us)} | ${md(l.floor)} | ${md(l.upstream)} | ${
      ratio(l.usOverFloor)
    } | ${ratio(l.usOverUpstream)} | ${
      l.targets.map((t) => `${t.text}: ${t.met === null ? "n/a" : t.met ? "met" : "**missed**"}`)
        .join("; ")
    } |`
  );
  return [
    "| line | unit | us median (min–p99) | floor | upstream | us/floor | us/upstream | targets |",
    "|---|---|---|---|---|---|---|---|",
    ...rows,
  ].join("\n");
}
