/**
 * Shapes, growth verdicts and rendering of `deno task bench --scale`: each series is one kind
 * of work (idle sessions, output-producing processes, relay streams, a rendezvous fan-out) for
 * one server, measured at growing counts; the verdict says how RSS and RPC p99 grow with it.
 * @module
 */

/** One measured count of a series. */
export interface ScalePoint {
  /** Units actually held open (below `requested` when a limit stopped the point). */
  n: number;
  requested: number;
  /** RSS of the measured process(es), MiB. */
  rssMiB: number;
  /** p99 of a quiet connection's `environment/status` round trip meanwhile, ms. */
  p99Ms: number | null;
  /** Aggregate throughput (output-producing series only), MiB/s. */
  mibPerSec?: number;
  /** Wall time to open the units (or start the processes), ms. */
  openMs: number;
  /** Why `n < requested`, or anything else odd about the point. */
  note?: string;
}

/** One kind of work for one server. */
export interface ScaleSeries {
  id: string;
  title: string;
  /** What one unit is ("session", "process", "stream"). */
  unit: string;
  server: "us" | "upstream";
  /** Which process(es) the RSS is of. */
  rssOf: string;
  points: ScalePoint[];
  skipped?: string;
  /**
   * Per-unit RSS cost (KiB, marginal: between the two largest counts) and the growth verdicts,
   * filled by {@link verdict}.
   */
  kibPerUnit?: number | null;
  rssGrowth?: string;
  p99Growth?: string;
}

/** The `scale` section of the results file. */
export interface ScaleSection {
  date: string;
  quick: boolean;
  commit: string;
  /** Open-file limits the run had, and what was raised. */
  fdLimit: string;
  series: ScaleSeries[];
}

/**
 * The growth exponent k in `y ~ x^k` between two points, classified: below 0.15 "flat",
 * below 0.85 "sublinear", up to 1.15 "linear", above that "worse than linear".
 *
 * @example
 * ```ts
 * classify(growthExponent(100, 10, 1000, 100)); // "linear"
 * ```
 */
export function classify(k: number | null): string {
  if (k === null || !Number.isFinite(k)) return "n/a";
  if (k < 0.15) return `flat (k=${k.toFixed(2)})`;
  if (k < 0.85) return `sublinear (k=${k.toFixed(2)})`;
  if (k <= 1.15) return `linear (k=${k.toFixed(2)})`;
  return `worse than linear (k=${k.toFixed(2)})`;
}

/**
 * log(y2/y1) / log(x2/x1); null when a value is not positive or the xs are equal.
 *
 * @example
 * ```ts
 * growthExponent(10, 1, 100, 10); // 1
 * ```
 */
export function growthExponent(x1: number, y1: number, x2: number, y2: number): number | null {
  if (x1 <= 0 || x2 <= 0 || y1 <= 0 || y2 <= 0 || x1 === x2) return null;
  return Math.log(y2 / y1) / Math.log(x2 / x1);
}

/**
 * Fills the series' per-unit RSS cost (growth between the two largest counts, per unit added)
 * and verdicts: RSS growth over the first point against units added, from the two largest
 * points; RPC p99 against the count, from the first and the last.
 *
 * @example
 * ```ts
 * verdict(series);
 * ```
 */
export function verdict(series: ScaleSeries): ScaleSeries {
  const p = series.points;
  if (p.length < 2) return { ...series, kibPerUnit: null, rssGrowth: "n/a", p99Growth: "n/a" };
  const first = p[0];
  const last = p[p.length - 1];
  // Marginal cost between the two largest counts: the first count's growth holds one-time
  // costs (JIT, heap and arena warm-up) that would inflate a per-unit figure.
  const from = p.length >= 3 ? p[p.length - 2] : first;
  const kibPerUnit = last.n > from.n
    ? (last.rssMiB - from.rssMiB) * 1024 / (last.n - from.n)
    : null;
  let rssGrowth = "n/a (one count above the first)";
  if (p.length >= 3) {
    const mid = p[p.length - 2];
    const grew = mid.rssMiB > first.rssMiB && last.rssMiB > first.rssMiB;
    rssGrowth = !grew ? "none measurable (RSS did not grow past the first count)" : classify(
      growthExponent(
        mid.n - first.n,
        mid.rssMiB - first.rssMiB,
        last.n - first.n,
        last.rssMiB - first.rssMiB,
      ),
    );
  }
  const p99Growth = first.p99Ms !== null && last.p99Ms !== null
    ? classify(growthExponent(first.n, first.p99Ms, last.n, last.p99Ms))
    : "n/a";
  return { ...series, kibPerUnit, rssGrowth, p99Growth };
}

function fixed(x: number | null | undefined, digits = 1): string {
  return x === null || x === undefined ? "-" : x.toFixed(digits);
}

function pointText(point: ScalePoint): string {
  const capped = point.n < point.requested ? ` of ${point.requested}` : "";
  const tput = point.mibPerSec !== undefined ? `, ${fixed(point.mibPerSec)} MiB/s` : "";
  return `${point.n}${capped}: ${fixed(point.rssMiB)} MiB, p99 ${fixed(point.p99Ms, 2)} ms${tput}`;
}

/**
 * The scale section as fixed-width text for the terminal.
 *
 * @example
 * ```ts
 * console.log(renderScaleText(section));
 * ```
 */
export function renderScaleText(section: ScaleSection): string {
  const out = [`scale (${section.fdLimit})`];
  for (const s of section.series) {
    out.push(`- ${s.title} [${s.server}] (RSS of ${s.rssOf})`);
    if (s.skipped) {
      out.push(`    skipped: ${s.skipped}`);
      continue;
    }
    for (const point of s.points) {
      out.push(
        `    ${pointText(point)}, opened in ${fixed(point.openMs, 0)} ms${
          point.note ? ` (${point.note})` : ""
        }`,
      );
    }
    out.push(
      `    per ${s.unit}: ${fixed(s.kibPerUnit)} KiB; RSS growth ${s.rssGrowth}; ` +
        `p99 growth ${s.p99Growth}`,
    );
  }
  for (const s of section.series) {
    const up = section.series.find((u) => u.id === s.id && u.server === "upstream");
    if (s.server !== "us" || !up || s.skipped || up.skipped) continue;
    const a = s.kibPerUnit;
    const b = up.kibPerUnit;
    const ratio = a && b && b > 0 ? ` (${(a / b).toFixed(2)}x)` : "";
    out.push(
      `  ${s.id}: per ${s.unit} us ${fixed(a)} KiB vs upstream ${fixed(b)} KiB${ratio}; ` +
        `largest count us ${s.points.at(-1)?.n ?? "-"}, upstream ${up.points.at(-1)?.n ?? "-"}`,
    );
  }
  return out.join("\n");
}

/**
 * The scale section as a Markdown table (for the README, via `deno task bench:table`).
 *
 * @example
 * ```ts
 * console.log(renderScaleMarkdown(section));
 * ```
 */
export function renderScaleMarkdown(section: ScaleSection): string {
  // Notes (why a count stopped short) become numbered footnotes, so rows stay readable.
  const notes: string[] = [];
  const ref = (note: string) => {
    let index = notes.indexOf(note);
    if (index < 0) index = notes.push(note) - 1;
    return ` [${index + 1}]`;
  };
  const rows = section.series.map((s) => {
    if (s.skipped) return `| ${s.title} | ${s.server} | n/a${ref(s.skipped)} | | | |`;
    const points = s.points.map((p) => pointText(p) + (p.note ? ref(p.note) : "")).join("; ");
    return `| ${s.title} | ${s.server} | ${points} | ${
      fixed(s.kibPerUnit)
    } | ${s.rssGrowth} | ${s.p99Growth} |`;
  });
  return [
    `${section.quick ? "Quick (`--quick --scale`)" : "`--scale`"} run of ${
      section.date.slice(0, 10)
    }, commit \`${section.commit}\`, ${section.fdLimit}. RSS is of the process named in the ` +
    "series; p99 is a quiet connection's `environment/status` round trip while the units are " +
    "held; k is the exponent in growth ~ count^k.",
    "",
    "| series | server | count: RSS, quiet RPC p99 (, aggregate output) | KiB per unit (marginal) | RSS growth | p99 growth |",
    "|---|---|---|---|---|---|",
    ...rows,
    ...(notes.length ? ["", ...notes.map((n, i) => `${i + 1}. ${n}`)] : []),
  ].join("\n");
}
