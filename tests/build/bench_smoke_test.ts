import assert from "node:assert/strict";

const ROOT = new URL("../..", import.meta.url).pathname;

Deno.test({
  name: "bench --quick runs a line against our server and the floor and writes results",
  timeout: 30_000,
}, async () => {
  const out = await Deno.makeTempFile({ suffix: ".json" });
  try {
    const run = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        `${ROOT}scripts/bench.ts`,
        "--quick",
        "--no-upstream",
        "--only",
        "rpc_round_trip",
        "--out",
        out,
      ],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(run.stdout);
    assert.ok(run.success, text + new TextDecoder().decode(run.stderr));
    assert.match(text, /small RPC round trip/);
    const results = JSON.parse(await Deno.readTextFile(out));
    const [line] = results.lines;
    assert.equal(line.id, "rpc_round_trip");
    assert.ok(line.us.median > 0 && line.floor.median > 0, JSON.stringify(line));
    assert.deepEqual(line.upstream, { skipped: "--no-upstream given" });
    assert.equal(typeof line.usOverFloor, "number");
  } finally {
    await Deno.remove(out);
  }
});
