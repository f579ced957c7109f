import assert from "node:assert/strict";
import { makeLine } from "../../scripts/_bench_stats.ts";
import {
  renderResultsMarkdown,
  replaceBetween,
  type ResultsFile,
} from "../../scripts/bench_table.ts";
import { LINE_IDS } from "../../scripts/bench.ts";
import { classify, growthExponent, verdict } from "../../scripts/_bench_scale_report.ts";

const ROOT = new URL("../..", import.meta.url).pathname;

function results(lines: ResultsFile["lines"]): ResultsFile {
  return {
    date: "2026-12-02T00:00:00.000Z",
    version: "0.1.0",
    upstream: "@openai/codex@0.169.0",
    quick: false,
    machine: {
      cpu: "AMD EPYC",
      cores: 2,
      os: "x86_64-unknown-linux-gnu",
      deno: "2.9.6",
      commit: "abc",
    },
    lines,
  };
}

Deno.test({
  name: "bench table: every known line gets a row, missing ones say so, skip reasons are footnotes",
  timeout: 15_000,
}, () => {
  const line = makeLine({
    id: "relay_throughput",
    title: "relay stream output 64M",
    unit: "MiB/s",
    better: "higher",
    us: [120, 128, 130],
    floor: [220, 229, 240],
    floorLabel: "direct",
    upstream: { skipped: "upstream has no self-hostable rendezvous" },
    targets: [{ ratio: "floor", op: ">=", value: 0.5 }],
  });
  const md = renderResultsMarkdown(results([line]));
  for (const id of LINE_IDS) assert.match(md, new RegExp(`\\| \`${id}\``), id);
  assert.match(md, /\| `startup` \| \| not in this results file/);
  assert.match(
    md,
    /\| `relay_throughput`: relay stream output 64M \| MiB\/s \| 128 \(120–130\) \|/,
  );
  assert.match(md, /n\/a \[1\]/);
  assert.match(md, /1\. upstream has no self-hostable rendezvous/);
  assert.match(md, /us\/floor >= 0\.5: met/);
  assert.match(md, /commit `abc`/);
});

Deno.test({
  name: "bench table: replaces only what lies between its markers, refuses a README without them",
  timeout: 15_000,
}, () => {
  const readme = "# A\n\n<!-- t:begin (generated) -->\nold table\n<!-- t:end -->\n\nhand text\n";
  const next = replaceBetween(readme, "t", "new table");
  assert.equal(
    next,
    "# A\n\n<!-- t:begin (generated) -->\n\nnew table\n\n<!-- t:end -->\n\nhand text\n",
  );
  assert.throws(() => replaceBetween("# A\n", "t", "x"), /no <!-- t:begin\/end --> markers/);
});

Deno.test({
  name: "bench table --check: the README's tables match bench/results.json; a hand edit fails it",
  timeout: 60_000,
}, async () => {
  const check = (readme: string) =>
    new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${ROOT}scripts/bench_table.ts`, "--check", "--readme", readme],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
  const ok = await check("README.md");
  assert.ok(ok.success, new TextDecoder().decode(ok.stderr));
  const edited = await Deno.makeTempFile({ suffix: ".md" });
  try {
    const text = await Deno.readTextFile(`${ROOT}README.md`);
    const begin = text.indexOf("<!-- bench-table:begin");
    const row = text.indexOf("| `rpc_round_trip`", begin);
    assert.ok(begin > 0 && row > begin, "the README has the generated table");
    await Deno.writeTextFile(
      edited,
      text.slice(0, row) + "| hand-edited | row |\n" + text.slice(row),
    );
    const bad = await check(edited);
    assert.equal(bad.success, false);
    assert.match(new TextDecoder().decode(bad.stderr), /run `deno task bench:table`/);
  } finally {
    await Deno.remove(edited);
  }
});

Deno.test({
  name: "bench scale: growth exponents are classified; per-unit cost is the marginal one",
  timeout: 15_000,
}, () => {
  assert.equal(growthExponent(10, 1, 100, 10), 1);
  assert.equal(growthExponent(0, 1, 100, 10), null);
  assert.match(classify(growthExponent(10, 5, 100, 5.1)), /^flat/);
  assert.match(classify(0.5), /^sublinear/);
  assert.match(classify(1), /^linear/);
  assert.match(classify(2), /^worse than linear/);
  const point = (n: number, rssMiB: number, p99Ms: number) => ({
    n,
    requested: n,
    rssMiB,
    p99Ms,
    openMs: 1,
  });
  // 50 MiB of warm-up at the first step, then 100 KiB per session.
  const series = verdict({
    id: "idle_sessions",
    title: "idle",
    unit: "session",
    server: "us",
    rssOf: "the server",
    points: [
      point(1, 50, 1),
      point(1001, 50 + 1000 * 100 / 1024, 1),
      point(10001, 50 + 10000 * 100 / 1024, 1),
    ],
  });
  assert.ok(Math.abs(series.kibPerUnit! - 100) < 0.01, String(series.kibPerUnit));
  assert.match(series.rssGrowth!, /^linear/);
  assert.match(series.p99Growth!, /^flat/);
});
