import assert from "node:assert/strict";
import { connectionCapFor, defaultMaxConnections, openFileLimit } from "../../lib/util/fd_limit.ts";

Deno.test({
  name: "fd limit: the default connection cap is half of what the reserve leaves, 64..65536",
  timeout: 5_000,
}, () => {
  assert.equal(connectionCapFor(1024), 384);
  assert.equal(connectionCapFor(256), 64);
  assert.equal(connectionCapFor(10), 64);
  assert.equal(connectionCapFor(1_048_576), 65_536);
  assert.equal(connectionCapFor(Infinity), 65_536);
  assert.equal(connectionCapFor(undefined), 512);
  // This process's own limit, as /proc says and as `ulimit -n` in a shell started by it says.
  const shell = new Deno.Command("sh", { args: ["-c", "ulimit -n"] }).outputSync();
  const said = new TextDecoder().decode(shell.stdout).trim();
  assert.equal(String(openFileLimit()), said === "unlimited" ? "Infinity" : said);
  assert.equal(defaultMaxConnections(), connectionCapFor(openFileLimit()));
});
