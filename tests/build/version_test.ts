import assert from "node:assert/strict";
import { VERSION } from "../../lib/version.ts";

const ROOT = new URL("../..", import.meta.url).pathname;

Deno.test({
  name: "version: deno.json's version is lib/version.ts's VERSION (what binaries report)",
  timeout: 15_000,
}, async () => {
  const manifest = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`));
  assert.equal(manifest.version, VERSION);
});
