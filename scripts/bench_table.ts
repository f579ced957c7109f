/**
 * `deno task bench:table`: rewrites the README's "Latest results" table (and the `--scale`
 * table, when the results hold a scale section) from `bench/results.json`, between the
 * `<!-- bench-table:begin -->` / `<!-- bench-table:end -->` (and `bench-scale:`) markers, so the
 * table is never edited by hand. `--check` only compares and fails when the README is out of
 * date; `--results F` reads another results file.
 *
 * Every line the bench knows appears, a line missing from the results file as "not in this
 * results file", so a line added later cannot silently stay out of the table.
 *
 * @example
 * ```sh
 * deno task bench:table
 * deno task bench:table --check
 * ```
 * @module
 */
import { parseArgs } from "node:util";
import type { Column, LineResult } from "./_bench_stats.ts";
import { renderScaleMarkdown, type ScaleSection } from "./_bench_scale_report.ts";
import { LINE_IDS } from "./bench.ts";

const ROOT = new URL("..", import.meta.url).pathname;

/** The results file as `scripts/bench.ts` writes it. */
export interface ResultsFile {
  date: string;
  version: string;
  upstream: string | { skipped: string };
  quick: boolean;
  machine: { cpu: string; cores: number; os: string; deno: string; commit: string };
  lines?: LineResult[];
  scale?: ScaleSection;
}

function num(x: number): string {
  if (x >= 100) return x.toFixed(0);
  if (x >= 10) return x.toFixed(1);
  if (x >= 1) return x.toFixed(2);
  return x.toFixed(3);
}

/** Skip reasons become numbered footnotes, so a long reason does not widen the table. */
class Footnotes {
  readonly reasons: string[] = [];
  cell(c: Column): string {
    if (!("skipped" in c)) return `${num(c.median)} (${num(c.min)}–${num(c.p99)})`;
    const reason = c.skipped.replace(/\s+/g, " ").trim();
    let index = this.reasons.indexOf(reason);
    if (index < 0) index = this.reasons.push(reason) - 1;
    return `n/a [${index + 1}]`;
  }
  render(): string[] {
    return this.reasons.map((r, i) => `${i + 1}. ${r}`);
  }
}

function ratio(r: number | null): string {
  return r === null ? "-" : `${r.toFixed(2)}x`;
}

/**
 * The Markdown of the main results table: a sentence naming the run, then one row per line
 * id the bench knows, in the bench's order.
 *
 * @example
 * ```ts
 * renderResultsMarkdown(JSON.parse(await Deno.readTextFile("bench/results.json")));
 * ```
 */
export function renderResultsMarkdown(results: ResultsFile): string {
  const m = results.machine;
  const byId = new Map((results.lines ?? []).map((l) => [l.id, l]));
  const ids = [...LINE_IDS, ...[...byId.keys()].filter((id) => !LINE_IDS.includes(id))];
  const notes = new Footnotes();
  const rows = ids.map((id) => {
    const l = byId.get(id);
    if (!l) return `| \`${id}\` | | not in this results file | | | | | |`;
    const targets = l.targets.map((t) =>
      `${t.text}: ${t.met === null ? "n/a" : t.met ? "met" : "**missed**"}`
    ).join("; ");
    return `| \`${id}\`: ${l.title} | ${l.unit} | ${notes.cell(l.us)} | ${notes.cell(l.floor)} | ${
      notes.cell(l.upstream)
    } | ${ratio(l.usOverFloor)} | ${ratio(l.usOverUpstream)} | ${targets} |`;
  });
  const upstream = typeof results.upstream === "string"
    ? results.upstream
    : `skipped (${results.upstream.skipped})`;
  return [
    `${results.quick ? "Quick (`--quick`) run" : "Full run"} of ${
      results.date.slice(0, 10)
    } on ${m.cpu} (${m.cores} cores, ${m.os}), Deno ${m.deno}, commit \`${m.commit}\`, ` +
    `upstream ${upstream}, from \`bench/results.json\`. Ratios are of medians; for ms, MiB ` +
    `and KiB lower is better, for MiB/s higher.`,
    "",
    "| line | unit | us median (min–p99) | floor | upstream | us/floor | us/upstream | targets |",
    "|---|---|---|---|---|---|---|---|",
    ...rows,
    ...(notes.reasons.length ? ["", "Not measured:", "", ...notes.render()] : []),
  ].join("\n");
}

/**
 * `readme` with the text between `<!-- NAME:begin ... -->` and `<!-- NAME:end -->` replaced by
 * `body`; throws when the markers are missing.
 *
 * @example
 * ```ts
 * replaceBetween("a\n<!-- t:begin -->\nold\n<!-- t:end -->\n", "t", "new");
 * ```
 */
export function replaceBetween(readme: string, name: string, body: string): string {
  const begin = new RegExp(`<!-- ${name}:begin[^>]*-->\\n`);
  const end = `<!-- ${name}:end -->`;
  const b = begin.exec(readme);
  const e = readme.indexOf(end);
  if (!b || e < b.index) throw new Error(`README.md has no <!-- ${name}:begin/end --> markers`);
  return readme.slice(0, b.index + b[0].length) + "\n" + body + "\n\n" + readme.slice(e);
}

async function formatMarkdown(text: string): Promise<string> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["fmt", "--ext", "md", "-"],
    cwd: ROOT,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await writer.close();
  const out = await child.output();
  if (!out.success) throw new Error(`deno fmt failed: ${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout);
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      check: { type: "boolean", default: false },
      results: { type: "string", default: "bench/results.json" },
      readme: { type: "string", default: "README.md" },
    },
  });
  const abs = (p: string) => p.startsWith("/") ? p : `${ROOT}${p}`;
  const results = JSON.parse(await Deno.readTextFile(abs(values.results))) as ResultsFile;
  const readmePath = abs(values.readme);
  const readme = await Deno.readTextFile(readmePath);
  let next = replaceBetween(readme, "bench-table", renderResultsMarkdown(results));
  next = replaceBetween(
    next,
    "bench-scale",
    results.scale
      ? renderScaleMarkdown(results.scale)
      : "No `--scale` section in `bench/results.json` yet: run `deno task bench --scale`.",
  );
  next = await formatMarkdown(next);
  if (values.check) {
    if (next === readme) return 0;
    console.error(
      `README.md's results tables differ from ${values.results}: run \`deno task bench:table\``,
    );
    return 1;
  }
  if (next !== readme) await Deno.writeTextFile(readmePath, next);
  console.log(
    `${next === readme ? "unchanged" : "rewrote"} ${values.readme} from ${values.results}`,
  );
  return 0;
}

if (import.meta.main) Deno.exit(await main());
