/**
 * `fs/watchMissing` + `fs/missingChanged` (capability `fsWatchMissing`) through a real websocket:
 * one-shot, replaced by a higher watchId, and gone with the connection.
 */
import assert from "node:assert/strict";
import type { TestClient } from "../_harness.ts";
import { assertRpcError, openSession, uri } from "./_session.ts";

const INVALID_PARAMS = -32602;

function changed(client: TestClient, watchId: number, timeoutMs = 5000) {
  return client.waitFor(
    (m) =>
      m.method === "fs/missingChanged" && (m.params as { watchId: number }).watchId === watchId,
    timeoutMs,
  );
}

/** Resolves false when no fs/missingChanged arrives within `ms` (a bounded negative check). */
async function quiet(client: TestClient, ms = 400): Promise<boolean> {
  const before = client.notifications("fs/missingChanged").length;
  try {
    await client.waitFor(
      (m) =>
        m.method === "fs/missingChanged" &&
        client.notifications("fs/missingChanged").length > before,
      ms,
    );
    return false;
  } catch {
    return true;
  }
}

/** Kernel (inotify) watches the server process holds, from /proc/PID/fdinfo. */
async function inotifyCount(pid: number): Promise<number> {
  let count = 0;
  for await (const entry of Deno.readDir(`/proc/${pid}/fd`)) {
    try {
      if (!(await Deno.readLink(`/proc/${pid}/fd/${entry.name}`)).includes("inotify")) continue;
      const info = await Deno.readTextFile(`/proc/${pid}/fdinfo/${entry.name}`);
      count += info.split("\n").filter((line) => line.startsWith("inotify wd:")).length;
    } catch {
      // closed meanwhile
    }
  }
  return count;
}

Deno.test({
  name: "fs/watchMissing fires once when a missing path or a missing ancestor appears",
  timeout: 30_000,
}, async () => {
  await using s = await openSession();
  const { client, dir } = s;
  const info = await client.call("environment/info");
  assert.equal((info.capabilities as Record<string, boolean>).fsWatchMissing, true);
  // What Codex sends: .agents/skills and the .git chain.
  assert.deepEqual(
    await client.call("fs/watchMissing", {
      watchId: 1,
      missing: [uri(`${dir}/.agents/skills`), uri(`${dir}/.git`)],
      present: null,
    }),
    { watching: true },
  );
  await Deno.writeTextFile(`${dir}/unrelated`, "x");
  assert.ok(await quiet(client), "a sibling that is not watched does not fire");
  await Deno.mkdir(`${dir}/.agents`);
  assert.deepEqual((await changed(client, 1)).params, { watchId: 1 });
  await Deno.mkdir(`${dir}/.git`);
  assert.ok(await quiet(client), "one-shot: the second change does not fire again");
  assert.equal(client.notifications("fs/missingChanged").length, 1);

  // A file appearing fires too; `present` may be left out.
  await client.call("fs/watchMissing", { watchId: 2, missing: [uri(`${dir}/late.txt`)] });
  await Deno.writeTextFile(`${dir}/late.txt`, "x");
  await changed(client, 2);
});

Deno.test({
  name: "fs/watchMissing: present fires on modify, removal and replacement, not on its entries",
  timeout: 30_000,
}, async () => {
  await using s = await openSession();
  const { client, dir } = s;
  const file = `${dir}/present.txt`;
  await Deno.writeTextFile(file, "hi\n");
  await Deno.mkdir(`${dir}/sub`);
  const watch = (watchId: number, present: string) =>
    client.call("fs/watchMissing", {
      watchId,
      missing: [uri(`${dir}/nope`)],
      present: uri(present),
    });

  assert.deepEqual(await watch(1, file), { watching: true });
  await Deno.writeTextFile(file, "more\n", { append: true });
  await changed(client, 1);

  await watch(2, file);
  await Deno.chmod(file, 0o600);
  await changed(client, 2);

  await watch(3, `${dir}/sub`);
  await Deno.writeTextFile(`${dir}/sub/child`, "x");
  assert.ok(await quiet(client), "a new entry in a present directory does not fire");
  await Deno.remove(`${dir}/sub`, { recursive: true });
  await changed(client, 3);

  await watch(4, file);
  await Deno.rename(file, `${dir}/moved.txt`);
  await changed(client, 4);
});

Deno.test({
  name: "fs/watchMissing: a higher watchId replaces, a lower one is refused",
  timeout: 30_000,
}, async () => {
  await using s = await openSession();
  const { client, dir } = s;
  const watch = (watchId: number, missing: string[], present: string | null = null) =>
    client.call("fs/watchMissing", { watchId, missing: missing.map(uri), present });
  assert.deepEqual(await watch(5, [`${dir}/a`]), { watching: true });
  assert.deepEqual(await watch(5, [`${dir}/b`]), { watching: false });
  assert.deepEqual(await watch(4, [`${dir}/b`]), { watching: false });
  assert.deepEqual(await watch(7, [`${dir}/b`]), { watching: true });
  await Deno.mkdir(`${dir}/a`);
  assert.ok(await quiet(client), "the replaced watch never fires");
  await Deno.mkdir(`${dir}/b`);
  await changed(client, 7);
  assert.deepEqual(client.notifications("fs/missingChanged"), [{ watchId: 7 }]);

  // Nothing missing, or `present` already gone: false, no notification follows.
  assert.deepEqual(await watch(8, [`${dir}/a`]), { watching: false });
  assert.deepEqual(await watch(9, [`${dir}/c`], uri(`${dir}/gone`)), { watching: false });
  // A higher id with nothing to watch cancels the current watch.
  assert.deepEqual(await watch(10, [`${dir}/d`]), { watching: true });
  assert.deepEqual(await watch(11, []), { watching: false });
  await Deno.mkdir(`${dir}/d`);
  assert.ok(await quiet(client), "a cancelled watch never fires");
  // Any one missing path is enough; existing ones are ignored.
  assert.deepEqual(await watch(12, [`${dir}/a`, `${dir}/e/f/g`]), { watching: true });
  await Deno.mkdir(`${dir}/e`);
  await changed(client, 12);
});

Deno.test({
  name: "fs/watchMissing: params errors and bounds",
  timeout: 30_000,
}, async () => {
  await using s = await openSession();
  const { client, dir } = s;
  const watch = (params: Record<string, unknown>) => client.call("fs/watchMissing", params);
  await assertRpcError(
    watch({ watchId: "w1", missing: [] }),
    INVALID_PARAMS,
    /^invalid type: string "w1"/,
  );
  await assertRpcError(watch({ watchId: 1 }), INVALID_PARAMS, "missing field `missing`");
  await assertRpcError(
    watch({ watchId: 1, missing: "x" }),
    INVALID_PARAMS,
    /^invalid type: string "x", expected a sequence/,
  );
  await assertRpcError(
    watch({ watchId: 1, missing: [], present: ["file:///x"] }),
    INVALID_PARAMS,
    /^invalid type: sequence, expected a string/,
  );
  await assertRpcError(watch({ watchId: 1, missing: ["relative"] }), INVALID_PARAMS, /relative/);
  const many = Array.from({ length: 1025 }, (_, i) => uri(`${dir}/m${i}`));
  await assertRpcError(
    watch({ watchId: 1, missing: many }),
    INVALID_PARAMS,
    "fs/watchMissing accepts at most 1024 paths",
  );
  // An unknown field is ignored, as upstream does.
  assert.deepEqual(await watch({ watchId: 2, missing: [uri(`${dir}/x`)], sandbox: "x" }), {
    watching: true,
  });
});

Deno.test({
  name: "fs/watchMissing: kernel watches end with the watch and with the connection",
  timeout: 30_000,
}, async () => {
  await using s = await openSession();
  const pid = s.server.child.pid;
  const before = await inotifyCount(pid);
  const other = await s.connect();
  // Two missing paths under one directory share one kernel watch.
  await other.call("fs/watchMissing", {
    watchId: 1,
    missing: [uri(`${s.dir}/x`), uri(`${s.dir}/x2`)],
  });
  assert.equal(await inotifyCount(pid), before + 1);
  // Replacing a watch keeps one kernel watch, not two.
  await Deno.mkdir(`${s.dir}/sub`);
  await other.call("fs/watchMissing", { watchId: 2, missing: [uri(`${s.dir}/sub/y`)] });
  const replacedBy = Date.now() + 5000;
  while (await inotifyCount(pid) !== before + 1) {
    assert.ok(Date.now() < replacedBy, "the replaced watch was not released");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await other.close();
  const deadline = Date.now() + 5000;
  while (await inotifyCount(pid) !== before) {
    assert.ok(Date.now() < deadline, "the watch outlived its connection");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
});

Deno.test({
  name: "fs/watchMissing without kernel watches polls: same one-shot notifications",
  timeout: 30_000,
}, async () => {
  await using s = await openSession({ env: { CODEX_EXEC_SERVER_WATCH_POLL: "1" } });
  const { client, dir } = s;
  const pid = s.server.child.pid;
  await Deno.writeTextFile(`${dir}/present.txt`, "x");
  assert.deepEqual(
    await client.call("fs/watchMissing", {
      watchId: 1,
      missing: [uri(`${dir}/a/b`)],
      present: uri(`${dir}/present.txt`),
    }),
    { watching: true },
  );
  assert.equal(await inotifyCount(pid), 0, "no kernel watch in poll mode");
  await Deno.mkdir(`${dir}/a`);
  await changed(client, 1);
  await client.call("fs/watchMissing", {
    watchId: 2,
    missing: [uri(`${dir}/zz`)],
    present: uri(`${dir}/present.txt`),
  });
  await Deno.writeTextFile(`${dir}/present.txt`, "more", { append: true });
  await changed(client, 2);
  assert.deepEqual(client.notifications("fs/missingChanged"), [{ watchId: 1 }, { watchId: 2 }]);
});
