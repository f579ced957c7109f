/**
 * Hostile input against a real `rendezvous` process: oversized and badly encoded registry
 * requests, and a websocket message over 64 MiB split into continuation frames.
 * @module
 */
import assert from "node:assert/strict";
import { fromBinary } from "@bufbuild/protobuf";
import { decodeFrame, RelayMessageFrameSchema } from "../../lib/relay/mod.ts";
import { connectHarnessStream } from "../../lib/relay/mod.ts";
import { resolveHarnessUrl } from "../../lib/registry/mod.ts";
import { peekFrame } from "../../lib/rendezvous/_frame_peek.ts";
import { openWebSocket } from "../../lib/transport/open_websocket.ts";
import { TestClient } from "../_harness.ts";
import { startRemoteProcess, startRendezvousProcess } from "../remote/_chain.ts";
import { until, within } from "../relay/_helpers.ts";
import { metric } from "./_cluster.ts";
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

/**
 * A frame the old peek routed by its first `stream_id` ("attacker") while protobuf-es reads the
 * second one, hidden behind a wire type the peek skipped (field 2 as fixed64: 8 bytes that are
 * also a length-prefixed string).
 */
function hijackFrame(ownStream: string, victimStream: string, reason: string): Uint8Array {
  const enc = new TextEncoder();
  const own = enc.encode(ownStream);
  const victim = enc.encode(victimStream);
  assert.equal(victim.length, 7, "the fixed64 trick needs a 7-byte victim id");
  const why = enc.encode(reason);
  return new Uint8Array([
    0x08,
    0x01,
    0x12,
    own.length,
    ...own,
    0x11,
    victim.length,
    ...victim,
    0x42,
    why.length + 2,
    0x0a,
    why.length,
    ...why,
  ]);
}

Deno.test({
  name: "rendezvous: a non-canonical frame naming another harness's stream is dropped, not routed",
  timeout: 60_000,
  ...TEST,
}, async () => {
  const frame = hijackFrame("attacker", "victim7", "pwned");
  // protobuf-es reads the victim's stream from these bytes (it ignores the wire type); neither
  // the rendezvous's peek nor our endpoints' decoder reads them at all.
  assert.equal(fromBinary(RelayMessageFrameSchema, frame).streamId, "victim7");
  assert.throws(() => decodeFrame(frame), /undecodable relay frame/);
  assert.equal(peekFrame(frame), undefined);

  await using rendezvous = await startRendezvousProcess({ token: TOKEN });
  const base = rendezvous.firstLine;
  await using remote = await startRemoteProcess(base, "exec-hijack", { token: TOKEN });
  const victimUrl = await resolveHarnessUrl({
    registry: base,
    executorId: "exec-hijack",
    token: TOKEN,
  });
  const victim = new TestClient(await connectHarnessStream(victimUrl, { streamId: "victim7" }));
  try {
    await victim.initialize();
    const attackerUrl = await resolveHarnessUrl({
      registry: base,
      executorId: "exec-hijack",
      token: TOKEN,
    });
    const attacker = await openWebSocket(attackerUrl);
    try {
      attacker.send(frame);
      await rendezvous.waitForStderr("not a canonical version-1 relay frame");
    } finally {
      attacker.close();
    }
    // The victim's stream was neither reset nor fed: its session still answers.
    const started = await within(
      10_000,
      "victim call",
      victim.call("process/start", {
        processId: "p1",
        argv: ["true"],
        cwd: "/",
        env: {},
        tty: false,
      }),
    );
    assert.ok(started);
    assert.doesNotMatch(remote.stderr(), /pwned/);
  } finally {
    await victim.close();
  }
});

Deno.test({
  name: "rendezvous: a live executor's id cannot be taken over; a replaced registration's URLs die",
  timeout: 60_000,
  ...TEST,
}, async () => {
  await using rendezvous = await startRendezvousProcess({ token: TOKEN });
  const base = rendezvous.firstLine;
  const body = (idempotency?: string) =>
    JSON.stringify({ name: "x", ...(idempotency ? { idempotency_id: idempotency } : {}) });
  const first = await register(base, "exec-owned", body("process-one"));
  assert.equal(first.status, 200);
  const executor = await openWebSocket(first.json.url);
  try {
    // (The rendezvous attaches the socket before it answers the upgrade: it is online now.)
    // Another registrant (another idempotency id, or none) is refused while it is connected.
    for (const other of [body("process-two"), body()]) {
      const refused = await register(base, "exec-owned", other);
      assert.equal(refused.status, 409);
      assert.equal(refused.json?.error?.code, "executor_id_in_use");
    }
    // The same executor registering again keeps its registration.
    const again = await register(base, "exec-owned", body("process-one"));
    assert.equal(again.status, 200);
    assert.equal(again.json.registration_id, first.json.registration_id);
  } finally {
    executor.close();
  }
  // Once it is gone, a new registrant gets the id, and the old URLs are refused at once.
  let replaced: Awaited<ReturnType<typeof register>> | undefined;
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    replaced = await register(base, "exec-owned", body("process-two"));
    if (replaced.status === 200) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(replaced?.status, 200);
  assert.notEqual(replaced!.json.registration_id, first.json.registration_id);
  await assert.rejects(openWebSocket(first.json.url), (error: Error) => {
    assert.match(error.message, /401/);
    return true;
  });
  const fresh = await openWebSocket(replaced!.json.url);
  fresh.close();
});

Deno.test({
  name:
    "rendezvous: one harness's message over 64 MiB closes that harness only; the executor link stays",
  timeout: 60_000,
  ...TEST,
}, async () => {
  await using rendezvous = await startRendezvousProcess({ token: TOKEN });
  const base = rendezvous.firstLine;
  await using remote = await startRemoteProcess(base, "exec-big-frame", { token: TOKEN });
  const resolve = () =>
    resolveHarnessUrl({ registry: base, executorId: "exec-big-frame", token: TOKEN });
  const victim = new TestClient(await connectHarnessStream(await resolve()));
  try {
    await victim.initialize();
    const raw = await RawWebSocket.open(await resolve());
    try {
      await raw.sendFragmented(2, 80 * MiB, MiB);
      assert.equal(await within(10_000, "close frame", raw.closeCode()), 1009);
    } finally {
      raw.close();
    }
    // Counted as a dropped message, by its reason.
    await until(5000, "oversize counted", async () =>
      (await metric(
        base,
        'rendezvous_frames_dropped_total{node="local",reason="oversize_message"}',
      )) === 1);
    const started = await within(
      10_000,
      "victim call",
      victim.call("process/start", {
        processId: "p1",
        argv: ["true"],
        cwd: "/",
        env: {},
        tty: false,
      }),
    );
    assert.ok(started);
    // Still the first and only connection of the executor.
    assert.equal(remote.stderr().split("connected to the rendezvous").length - 1, 1);
  } finally {
    await victim.close();
  }
});
