import assert from "node:assert/strict";
import { RpcError } from "../../lib/jsonrpc/errors.ts";
import { routeTable } from "../../lib/server/routes.ts";
import { fsHandlers } from "../../lib/fs/methods.ts";
import { httpHandlers } from "../../lib/http/methods.ts";
import { configHandlers } from "../../lib/config/methods.ts";
import { discoveryHandlers } from "../../lib/discovery/methods.ts";
import type { MethodContext, MethodSpec } from "../../lib/method/mod.ts";
import { Method } from "../../lib/protocol/methods.ts";
import { startServer, TestClient } from "../_harness.ts";
import { assertRpcError } from "../fs/_session.ts";

const INVALID_PARAMS = -32602;
const INVALID_REQUEST = -32600;

Deno.test({
  name: "lazy routes: after its first call, every lazily loaded method is its module's own spec",
  timeout: 15_000,
}, async () => {
  const table = routeTable();
  const real = new Map<MethodSpec["handle"], MethodSpec>();
  for (const area of [fsHandlers, httpHandlers, configHandlers, discoveryHandlers]) {
    for (const spec of Object.values(area) as MethodSpec[]) real.set(spec.handle, spec);
  }
  // One call per area (later calls go straight to the module's handler, which expects checked
  // params). A call with params no schema accepts loads the area, then fails validation (a declared
  // family or lane that differs from the module's would fail the load with a plain Error).
  for (
    const name of [
      Method.fsReadFile,
      Method.httpRequest,
      Method.environmentConfigRead,
      Method.capabilitiesDiscoverV2,
    ]
  ) {
    await assert.rejects(
      Promise.resolve(table[name].handle(42, {} as MethodContext)),
      (error) => error instanceof RpcError && error.code === INVALID_PARAMS,
      name,
    );
  }
  let lazy = 0;
  for (const [name, spec] of Object.entries(table)) {
    const loaded = real.get(spec.handle);
    if (!loaded) continue;
    lazy++;
    assert.equal(spec.params, loaded.params, name);
    assert.equal(spec.family, loaded.family, name);
    assert.equal(spec.lane ?? "ordinary", loaded.lane ?? "ordinary", name);
  }
  const expected = [fsHandlers, httpHandlers, configHandlers, discoveryHandlers]
    .reduce((n, area) => n + Object.keys(area).length, 0);
  assert.equal(lazy, expected, "every lazy method was swapped for its module's spec");
});

Deno.test({
  name: "lazy routes: a fresh server answers a lazy area's first call exactly as later ones",
  timeout: 20_000,
}, async () => {
  await using server = await startServer();
  await using client = await TestClient.connect(server.url);
  // The handshake gate names the family before anything is loaded.
  await assertRpcError(
    client.call("fs/readFile", {}),
    INVALID_REQUEST,
    "client must call initialize before using filesystem methods",
  );
  await client.initialize();
  // Two concurrent first calls (one loads, one waits for the load), then one after.
  const [first, second] = await Promise.allSettled([
    client.call("fs/readFile", {}),
    client.call("http/request", { method: "GET" }),
  ]);
  assert.equal(first.status, "rejected");
  assert.equal(second.status, "rejected");
  await assertRpcError(Promise.reject(first.reason), INVALID_PARAMS, "missing field `path`");
  await assertRpcError(client.call("fs/readFile", {}), INVALID_PARAMS, "missing field `path`");
  await assertRpcError(client.call("fs/readFile", { path: 7 }), INVALID_PARAMS, /^invalid type/);
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/a.txt`, "lazy");
    const read = await client.call("fs/readFile", { path: `file://${dir}/a.txt` });
    assert.equal(atob(read.dataBase64 as string), "lazy");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
