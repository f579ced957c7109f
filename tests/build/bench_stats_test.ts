import assert from "node:assert/strict";
import { makeLine, renderTable, summarize } from "../../scripts/_bench_stats.ts";
import { base64Bytes, mibPerSec } from "../../scripts/_bench_context.ts";

Deno.test({
  name: "bench stats: nearest-rank min / median / p99",
  timeout: 15_000,
}, () => {
  assert.deepEqual(summarize([3, 1, 2]), { n: 3, min: 1, median: 2, p99: 3 });
  const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
  assert.deepEqual(summarize(hundred), { n: 100, min: 1, median: 50, p99: 99 });
});

Deno.test({
  name: "bench line: median ratios and target verdicts; skipped columns give n/a",
  timeout: 15_000,
}, () => {
  const line = makeLine({
    id: "rpc",
    title: "rpc",
    unit: "ms",
    better: "lower",
    us: [2, 2, 2],
    floor: [1, 1, 1],
    floorLabel: "echo",
    upstream: { skipped: "not installed" },
    targets: [
      { ratio: "floor", op: "<=", value: 2 },
      { ratio: "upstream", op: "<=", value: 1 },
      { ratio: "absolute", op: "<=", value: 1.5, stat: "p99" },
    ],
  });
  assert.equal(line.usOverFloor, 2);
  assert.equal(line.usOverUpstream, null);
  assert.deepEqual(line.targets.map((t) => t.met), [true, null, false]);
  const table = renderTable([line]);
  assert.match(table, /us\/floor <= 2 MET/);
  assert.match(table, /upstream skipped: not installed/);
});

Deno.test({
  name: "bench: base64 byte counts without decoding",
  timeout: 15_000,
}, () => {
  for (const n of [0, 1, 2, 3, 4, 8192]) {
    const b64 = btoa(String.fromCharCode(...new Uint8Array(n)));
    assert.equal(base64Bytes(b64), n);
  }
  assert.equal(mibPerSec(1048576, 500), 2);
});
