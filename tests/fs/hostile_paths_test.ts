/**
 * Hostile paths against the real server (issue 12, "Files"): removal through a symlinked
 * directory, copies that reach into themselves through a symlink, `followSymlinks: false`
 * against a process swapping a parent directory for a symlink, and paths that are not text.
 */
import assert from "node:assert/strict";
import { ROOT } from "../_harness.ts";
import { assertRpcError, b64, openSession, uri } from "./_session.ts";

const INVALID_REQUEST = -32600;
const INVALID_PARAMS = -32602;

async function names(path: string): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir(path)) found.push(entry.name);
  return found.sort();
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

Deno.test({
  name: "fs/remove of a symlinked directory spelled with / or /. removes the link only",
  timeout: 30_000,
}, async () => {
  await using s = await openSession();
  const { client, dir } = s;
  // Upstream 0.169.0 answers {} and unlinks the link for every spelling and option below.
  for (const spelling of ["link/", "link/.", "link//", "link/./", "link"]) {
    for (const recursive of [true, false]) {
      const base = `${dir}/rm-${spelling.replaceAll("/", "s").replaceAll(".", "d")}-${recursive}`;
      await Deno.mkdir(`${base}/target/sub`, { recursive: true });
      await Deno.writeTextFile(`${base}/target/keep.txt`, "keep");
      await Deno.symlink(`${base}/target`, `${base}/link`);
      // Both wire forms: the file: URI (whose parser drops `/.`) and a plain path (kept as is).
      for (const path of [`file://${base}/${spelling}`, `${base}/${spelling}`]) {
        if (!(await exists(`${base}/link`))) await Deno.symlink(`${base}/target`, `${base}/link`);
        const result = await client.call("fs/remove", { path, recursive, force: true });
        assert.deepEqual(result, {});
        assert.equal(await exists(`${base}/link`), false, `${path} left the link`);
        assert.deepEqual(await names(`${base}/target`), ["keep.txt", "sub"], `${path} emptied`);
      }
    }
  }
  await assertRpcError(
    client.call("fs/remove", { path: `${dir}/rm-linksd-true/target/sub/..` }),
    INVALID_REQUEST,
    /^fs\/remove refuses '.*\/sub\/\.\.': a path ending in '\.\.'/,
  );
  assert.deepEqual(await names(`${dir}/rm-linksd-true/target`), ["keep.txt", "sub"]);
});

Deno.test({
  name: "fs/copy refuses a destination inside the source through a symlink",
  timeout: 30_000,
}, async () => {
  await using s = await openSession();
  const { client, dir } = s;
  await Deno.mkdir(`${dir}/src/deep`, { recursive: true });
  await Deno.writeTextFile(`${dir}/src/deep/f.txt`, "f");
  await Deno.symlink(`${dir}/src/deep`, `${dir}/lnk`);
  // The kernel resolves `lnk/..` to `src`, so this destination is `src/copy`. (A file: URI drops
  // `lnk/..` lexically while parsing, so only the plain-path form can say it.)
  for (const destination of [`${dir}/lnk/../copy`, `${dir}/lnk/../deep/x/../y`]) {
    await assertRpcError(
      client.call("fs/copy", {
        sourcePath: uri(`${dir}/src`),
        destinationPath: destination,
        recursive: true,
      }),
      INVALID_REQUEST,
      "fs/copy cannot copy a directory to itself or one of its descendants",
    );
  }
  assert.deepEqual(await names(`${dir}/src`), ["deep"]);
  assert.deepEqual(await names(`${dir}/src/deep`), ["f.txt"]);
  // The same spelling pointing outside the source still copies.
  await Deno.symlink(`${dir}/src/deep`, `${dir}/src/inner`);
  await client.call("fs/copy", {
    sourcePath: `${dir}/src/inner/..`,
    destinationPath: `${dir}/elsewhere`,
    recursive: true,
  });
  assert.deepEqual(await names(`${dir}/elsewhere`), ["deep", "inner"]);
});

Deno.test({
  timeout: 30_000,
  name: "followSymlinks: false lands no write through a parent a racing process swaps for a link",
  async fn() {
    await using s = await openSession();
    const { client, dir } = s;
    await Deno.mkdir(`${dir}/outside`);
    await Deno.mkdir(`${dir}/p`);
    // The swapper flips `p` between a real directory and a symlink to `outside` as fast as it can.
    const swapper = new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        `const d = ${JSON.stringify(dir)};
         console.log("ready");
         for (;;) {
           try { Deno.renameSync(d + "/p", d + "/p.real"); } catch {}
           try { Deno.symlinkSync(d + "/outside", d + "/p"); } catch {}
           try { Deno.removeSync(d + "/p"); } catch {}
           try { Deno.renameSync(d + "/p.real", d + "/p"); } catch {}
         }`,
      ],
      cwd: ROOT,
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const reader = swapper.stdout.getReader();
    try {
      await reader.read();
      let ok = 0, refused = 0;
      const deadline = Date.now() + 4000;
      for (let i = 0; i < 2500 && Date.now() < deadline; i++) {
        const response = await client.request("fs/writeFile", {
          path: uri(`${dir}/p/f${i}`),
          dataBase64: b64("x"),
          followSymlinks: false,
        });
        if ("error" in response) refused++;
        else ok++;
      }
      const landed = await names(`${dir}/outside`);
      assert.equal(landed.length, 0, `${landed.length} of ${ok} writes landed through the link`);
      // The race was exercised: some writes went through, some met the link.
      assert(ok > 0 && refused > 0, `ok ${ok}, refused ${refused}`);
    } finally {
      swapper.kill("SIGKILL");
      await swapper.status;
      await reader.cancel();
    }
  },
});

Deno.test({
  name: "a lone surrogate or a NUL in a path is invalid params in every fs method and cwd",
  timeout: 30_000,
}, async () => {
  await using s = await openSession();
  const { client, dir } = s;
  await Deno.mkdir(`${dir}/d`);
  const bad = [
    { path: `file://${dir}/d/a\ud800b`, message: /lone UTF-16 surrogate/ },
    { path: `${dir}/d/a\udc00`, message: /lone UTF-16 surrogate/ },
    {
      path: `file://${dir}/d/a%00b`,
      message: /is invalid on 'linux': a path cannot contain a NUL/,
    },
    { path: `${dir}/d/a\u0000b`, message: /is invalid on 'linux': a path cannot contain a NUL/ },
  ];
  const good = uri(`${dir}/d/ok`);
  for (const { path, message } of bad) {
    const calls: [string, Record<string, unknown>][] = [
      ["fs/readFile", { path }],
      ["fs/writeFile", { path, dataBase64: b64("x") }],
      ["fs/createDirectory", { path }],
      ["fs/getMetadata", { path }],
      ["fs/canonicalize", { path }],
      ["fs/readDirectory", { path }],
      ["fs/walk", {
        path,
        options: { maxDepth: 1, maxDirectories: 1, maxEntries: 1, followDirectorySymlinks: false },
      }],
      ["fs/remove", { path }],
      ["fs/copy", { sourcePath: path, destinationPath: good, recursive: true }],
      ["fs/copy", { sourcePath: good, destinationPath: path, recursive: true }],
      ["fs/open", { handleId: "h", path }],
      ["process/start", { processId: "p", argv: ["true"], cwd: path, env: {}, tty: false }],
    ];
    for (const [method, params] of calls) {
      const error = await assertRpcError(client.call(method, params), INVALID_PARAMS, message);
      assert(error.message.isWellFormed(), `${method}: the message itself is not valid text`);
    }
  }
  // Nothing was created under a U+FFFD name (what the URL parser makes of a lone surrogate).
  assert.deepEqual(await names(`${dir}/d`), []);
});
