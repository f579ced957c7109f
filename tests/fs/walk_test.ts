import assert from "node:assert/strict";
import { walk, type WalkOptions } from "../../lib/fs/walk.ts";
import { uriFromPath } from "../../lib/protocol/file_uri.ts";
import { mkfifo } from "./_session.ts";

const DEFAULTS: WalkOptions = {
  maxDepth: 10,
  maxDirectories: 100,
  maxEntries: 100,
  followDirectorySymlinks: false,
};

/** root/{.hidden/x/c.txt, a.txt, fifo, flink -> a.txt, linkdir -> sub, sub/{b.txt, deep/}} */
async function tree(): Promise<string> {
  const root = await Deno.realPath(await Deno.makeTempDir({ prefix: "walk_" }));
  await Deno.mkdir(`${root}/sub/deep`, { recursive: true });
  await Deno.mkdir(`${root}/.hidden/x`, { recursive: true });
  await Deno.writeTextFile(`${root}/a.txt`, "a");
  await Deno.writeTextFile(`${root}/sub/b.txt`, "b");
  await Deno.writeTextFile(`${root}/.hidden/x/c.txt`, "c");
  await Deno.symlink(`${root}/a.txt`, `${root}/flink`);
  await Deno.symlink(`${root}/sub`, `${root}/linkdir`);
  await mkfifo(`${root}/fifo`);
  return root;
}

function names(root: string, entries: { path: string; kind: string }[]): string[] {
  const prefix = uriFromPath(root);
  return entries.map((e) => `${e.path.slice(prefix.length + 1)}:${e.kind[0]}`);
}

Deno.test({
  name: "walk lists breadth-first, sorted per directory, files and directories only",
  timeout: 15_000,
}, async () => {
  const root = await tree();
  try {
    const outcome = await walk(root, DEFAULTS);
    assert.deepEqual(names(root, outcome.entries), [
      ".hidden:d",
      "a.txt:f",
      "sub:d",
      ".hidden/x:d",
      "sub/b.txt:f",
      "sub/deep:d",
      ".hidden/x/c.txt:f",
    ]);
    assert.deepEqual([outcome.errors, outcome.truncated], [[], false]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test({
  name: "walk follows directory symlinks once per real directory",
  timeout: 15_000,
}, async () => {
  const root = await tree();
  try {
    const outcome = await walk(root, {
      ...DEFAULTS,
      followDirectorySymlinks: true,
      pruneHiddenDirectories: true,
    });
    // linkdir sorts before sub, so the real directory is read through the link only.
    assert.deepEqual(names(root, outcome.entries), [
      ".hidden:d",
      "a.txt:f",
      "linkdir:d",
      "sub:d",
      "linkdir/b.txt:f",
      "linkdir/deep:d",
    ]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test({
  name: "walk limits: depth, directories, entries (raw entries count)",
  timeout: 15_000,
}, async () => {
  const root = await tree();
  try {
    const depth0 = await walk(root, { ...DEFAULTS, maxDepth: 0 });
    assert.deepEqual(names(root, depth0.entries), [".hidden:d", "a.txt:f", "sub:d"]);
    assert.equal(depth0.truncated, false);

    const depth1 = await walk(root, { ...DEFAULTS, maxDepth: 1, maxDirectories: 3 });
    assert.equal(depth1.entries.length, 6);
    assert.equal(depth1.truncated, false);

    const dirs4 = await walk(root, { ...DEFAULTS, maxDirectories: 4 });
    assert.equal(dirs4.entries.length, 7);
    assert.equal(dirs4.truncated, true);
    const dirs5 = await walk(root, { ...DEFAULTS, maxDirectories: 5 });
    assert.equal(dirs5.truncated, false);

    // Root has 6 raw entries (.hidden a.txt fifo flink linkdir sub): the 3rd is the FIFO.
    const entries3 = await walk(root, { ...DEFAULTS, maxEntries: 3 });
    assert.deepEqual(names(root, entries3.entries), [".hidden:d", "a.txt:f"]);
    assert.equal(entries3.truncated, true);
    const all = await walk(root, { ...DEFAULTS, maxEntries: 10 });
    assert.equal(all.truncated, false);
    const oneShort = await walk(root, { ...DEFAULTS, maxEntries: 9 });
    assert.equal(oneShort.truncated, true);

    await assert.rejects(
      () => walk(root, { ...DEFAULTS, maxDirectories: 0 }),
      { code: -32600, message: "filesystem walk limits must be greater than zero" },
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test({
  name: "walk roots: a file or a symlink while not following yields nothing",
  timeout: 15_000,
}, async () => {
  const root = await tree();
  try {
    assert.deepEqual(await walk(`${root}/a.txt`, DEFAULTS), {
      entries: [],
      errors: [],
      truncated: false,
    });
    assert.equal((await walk(`${root}/linkdir`, DEFAULTS)).entries.length, 0);
    const followed = await walk(`${root}/linkdir`, { ...DEFAULTS, followDirectorySymlinks: true });
    assert.deepEqual(names(`${root}/linkdir`, followed.entries), ["b.txt:f", "deep:d"]);
    await assert.rejects(() => walk(`${root}/none`, DEFAULTS), { code: -32004 });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
