/**
 * Hostile input against a real `rendezvous` process: oversized and badly encoded registry
 * requests, and a websocket message over 64 MiB split into continuation frames.
 * @module
 */
import assert from "node:assert/strict";
import { startRendezvousProcess } from "../remote/_chain.ts";
import { within } from "../relay/_helpers.ts";
import { RawWebSocket, rssMiB } from "../transport/_raw_ws.ts";

const TOKEN = "hostile-rendezvous-token";
const AUTH = { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" };
const MiB = 1024 * 1024;
const TEST = { sanitizeOps: false, sanitizeResources: false };

async function register(base: string, id: string, body: string) {
  const response = await fetch(`${base}/cloud/executor/${id}/register`, {
    method: "POST",
    headers: AUTH,
    body,
  });
  return { status: response.status, json: await response.json().catch(() => null) };
}

Deno.test({
  timeout: 60_000,
  name: "rendezvous: register bodies over 1 MiB are 413; bad percent-encoding in an id is 400",
  ...TEST,
}, async () => {
  await using rendezvous = await startRendezvousProcess({ token: TOKEN });
  const base = rendezvous.firstLine;
  const big = JSON.stringify({ name: "x", metadata: { pad: "a".repeat(2 * MiB) } });
  assert.equal((await register(base, "exec-big", big)).status, 413);
  for (const id of ["%E0%A4%A", "%", "abc%ZZ"]) {
    const answer = await register(base, id, "{}");
    assert.equal(answer.status, 400, `id ${id}`);
    assert.equal(answer.json?.error?.code, "invalid_executor_id");
  }
  assert.doesNotMatch(rendezvous.stderr(), /URIError|handler failed/);
  const ok = await register(base, "exec-ok", JSON.stringify({ name: "ok" }));
  assert.equal(ok.status, 200);
});

Deno.test({
  timeout: 60_000,
  name: "rendezvous: a message over 64 MiB in continuation frames closes that socket with 1009",
  ...TEST,
}, async () => {
  await using rendezvous = await startRendezvousProcess({ token: TOKEN });
  const base = rendezvous.firstLine;
  const registered = await register(base, "exec-frag", JSON.stringify({ name: "frag" }));
  assert.equal(registered.status, 200);
  const raw = await RawWebSocket.open(registered.json.url);
  try {
    await raw.sendFragmented(2, 80 * MiB, MiB);
    assert.equal(await within(10_000, "close frame", raw.closeCode()), 1009);
  } finally {
    raw.close();
  }
  assert.ok(rssMiB(rendezvous.child.pid) < 600, `RSS ${rssMiB(rendezvous.child.pid)} MiB`);
  const ready = await fetch(`${base}/readyz`);
  assert.equal(ready.status, 200);
  await ready.body?.cancel();
  assert.equal((await register(base, "exec-after", "{}")).status, 200);
});
