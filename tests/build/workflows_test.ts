import assert from "node:assert/strict";
import { lintWorkflows } from "../../scripts/check_workflows.ts";

const ROOT = new URL("../..", import.meta.url).pathname;

Deno.test({
  name: "workflows: ci.yml and release.yml pass actionlint; a broken one is reported",
  timeout: 30_000,
}, async () => {
  assert.deepEqual(await lintWorkflows(`${ROOT}.github/workflows`), []);
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/bad.yml`,
      "on: pushed\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.nope }}\n",
    );
    const kinds = (await lintWorkflows(dir)).map((r) => `${r.line} ${r.kind}`);
    assert.deepEqual(kinds, ["1 events", "6 expression"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
