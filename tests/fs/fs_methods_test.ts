/**
 * Path-based filesystem methods against the real server over a websocket (spec §3.3,
 * scenarios 33–38 and 44, and every error text listed for these methods).
 */
import assert from "node:assert/strict";
import { assertRpcError, b64, mkfifo, openSession, unb64, uri } from "./_session.ts";

const NOT_FOUND = -32004;
const INVALID_REQUEST = -32600;
const INVALID_PARAMS = -32602;
const INTERNAL = -32603;

Deno.test({
  name: "filesystem methods over a websocket",
  timeout: 30_000,
}, async (t) => {
  await using s = await openSession();
  const { client, dir } = s;

  await t.step("scenario 33: metadata of a 5-byte file", async () => {
    await Deno.writeTextFile(`${dir}/note.txt`, "hello");
    const meta = await client.call("fs/getMetadata", { path: uri(`${dir}/note.txt`) });
    assert.deepEqual(
      { ...meta, modifiedAtMs: undefined, createdAtMs: undefined },
      {
        isDirectory: false,
        isFile: true,
        isSymlink: false,
        size: 5,
        modifiedAtMs: undefined,
        createdAtMs: undefined,
      },
    );
    assert((meta.modifiedAtMs as number) > 0);
    assert(Math.abs((meta.modifiedAtMs as number) - Date.now()) < 60_000);
  });

  await t.step("scenario 34: create, write, read, copy, list, remove", async () => {
    const source = `${dir}/s34/source`;
    await client.call("fs/createDirectory", { path: uri(`${source}/nested`), recursive: true });
    await client.call("fs/writeFile", {
      path: uri(`${source}/nested/note.txt`),
      dataBase64: b64("nested"),
    });
    await client.call("fs/writeFile", { path: uri(`${source}/root.txt`), dataBase64: b64("root") });
    const read = await client.call("fs/readFile", { path: uri(`${source}/nested/note.txt`) });
    assert.deepEqual(unb64(read.dataBase64 as string), "nested");

    await client.call("fs/copy", {
      sourcePath: uri(`${source}/root.txt`),
      destinationPath: uri(`${dir}/s34/root-copy.txt`),
      recursive: false,
    });
    assert.deepEqual(await Deno.readTextFile(`${dir}/s34/root-copy.txt`), "root");
    await client.call("fs/copy", {
      sourcePath: uri(source),
      destinationPath: uri(`${dir}/s34/copy`),
      recursive: true,
    });
    assert.deepEqual(await Deno.readTextFile(`${dir}/s34/copy/nested/note.txt`), "nested");

    const { entries } = await client.call("fs/readDirectory", { path: uri(source) });
    const sorted = (entries as { fileName: string }[]).toSorted((a, b) =>
      a.fileName < b.fileName ? -1 : 1
    );
    assert.deepEqual(sorted, [
      { fileName: "nested", isDirectory: true, isFile: false },
      { fileName: "root.txt", isDirectory: false, isFile: true },
    ]);

    await client.call("fs/remove", { path: uri(`${dir}/s34/copy`), recursive: true, force: true });
    await assert.rejects(() => Deno.lstat(`${dir}/s34/copy`), Deno.errors.NotFound);
  });

  await t.step(
    "scenario 35: write with a missing parent is NotFound and creates nothing",
    async () => {
      await assertRpcError(
        client.call("fs/writeFile", {
          path: uri(`${dir}/missing/child.txt`),
          dataBase64: b64("x"),
        }),
        NOT_FOUND,
        `No such file or directory (os error 2): open '${dir}/missing/child.txt'`,
      );
      await assert.rejects(() => Deno.lstat(`${dir}/missing`), Deno.errors.NotFound);
    },
  );

  await t.step("scenario 36: copying a directory needs recursive", async () => {
    await Deno.mkdir(`${dir}/s36`);
    await assertRpcError(
      client.call("fs/copy", {
        sourcePath: uri(`${dir}/s36`),
        destinationPath: uri(`${dir}/s36-copy`),
        recursive: false,
      }),
      INVALID_REQUEST,
      "fs/copy requires recursive: true when sourcePath is a directory",
    );
  });

  await t.step("scenario 37: no copy into itself or a descendant", async () => {
    await Deno.mkdir(`${dir}/s37/sub`, { recursive: true });
    await Deno.symlink(`${dir}/s37`, `${dir}/s37-alias`);
    for (const destination of [`${dir}/s37`, `${dir}/s37/sub/new`, `${dir}/s37-alias/x/y`]) {
      await assertRpcError(
        client.call("fs/copy", {
          sourcePath: uri(`${dir}/s37`),
          destinationPath: uri(destination),
          recursive: true,
        }),
        INVALID_REQUEST,
        "fs/copy cannot copy a directory to itself or one of its descendants",
      );
    }
    await assert.rejects(() => Deno.lstat(`${dir}/s37/sub/new`), Deno.errors.NotFound);
  });

  await t.step("scenario 38: canonicalize through a symlinked directory alias", async () => {
    await Deno.mkdir(`${dir}/s38/real dir`, { recursive: true });
    await Deno.writeTextFile(`${dir}/s38/real dir/f.txt`, "x");
    await Deno.symlink(`${dir}/s38/real dir`, `${dir}/s38/alias`);
    const result = await client.call("fs/canonicalize", {
      path: uri(`${dir}/s38/alias/../alias/f.txt`),
    });
    assert.deepEqual(result, { path: uri(`${dir}/s38/real dir/f.txt`) });
    assert((result.path as string).includes("real%20dir"));
  });

  await t.step(
    "scenario 44: readFile refuses a 200 MiB file (its result could not fit 64 MiB)",
    async () => {
      const big = `${dir}/big.bin`;
      // Sparse: takes no disk space and is refused before any byte is read.
      await Deno.writeFile(big, new Uint8Array(0));
      await Deno.truncate(big, 200 * 1024 * 1024);
      await assertRpcError(
        client.call("fs/readFile", { path: uri(big) }),
        INVALID_REQUEST,
        "file is too large to read: limit is 50282496 bytes",
      );
      // One byte over the limit is refused too; the server keeps answering.
      await Deno.truncate(big, 50282496 + 1);
      await assertRpcError(
        client.call("fs/readFile", { path: uri(big) }),
        INVALID_REQUEST,
        "file is too large to read: limit is 50282496 bytes",
      );
      await Deno.writeTextFile(big, "small");
      assert.deepEqual(await client.call("fs/readFile", { path: uri(big) }), {
        dataBase64: btoa("small"),
      });
    },
  );

  await t.step("readFile: not-a-file, FIFO without blocking, NotFound, loops", async () => {
    await Deno.mkdir(`${dir}/rf`);
    await assertRpcError(
      client.call("fs/readFile", { path: uri(`${dir}/rf`) }),
      INVALID_REQUEST,
      `path \`${dir}/rf\` is not a file`,
    );
    await mkfifo(`${dir}/rf/fifo`);
    const started = performance.now();
    await assertRpcError(
      client.call("fs/readFile", { path: uri(`${dir}/rf/fifo`) }),
      INVALID_REQUEST,
      `path \`${dir}/rf/fifo\` is not a file`,
    );
    assert(performance.now() - started < 1000);
    await assertRpcError(
      client.call("fs/readFile", { path: uri(`${dir}/rf/none`) }),
      NOT_FOUND,
      /^No such file or directory \(os error 2\)/,
    );
    await Deno.symlink(`${dir}/rf/loop-a`, `${dir}/rf/loop-b`);
    await Deno.symlink(`${dir}/rf/loop-b`, `${dir}/rf/loop-a`);
    await assertRpcError(
      client.call("fs/readFile", { path: uri(`${dir}/rf/loop-a`) }),
      INTERNAL,
      `Symbolic link loop (os error 40): open '${dir}/rf/loop-a'`,
    );
    await Deno.writeTextFile(`${dir}/rf/file`, "x");
    await assertRpcError(
      client.call("fs/readFile", { path: uri(`${dir}/rf/file/below`) }),
      INTERNAL,
      /^Not a directory \(os error 20\)/,
    );
  });

  await t.step("readFile with followSymlinks", async () => {
    await Deno.writeTextFile(`${dir}/target.txt`, "target");
    await Deno.symlink(`${dir}/target.txt`, `${dir}/link.txt`);
    const followed = await client.call("fs/readFile", {
      path: uri(`${dir}/link.txt`),
      followSymlinks: true,
    });
    assert.deepEqual(unb64(followed.dataBase64 as string), "target");
    await assertRpcError(
      client.call("fs/readFile", { path: uri(`${dir}/link.txt`), followSymlinks: false }),
      INTERNAL,
      /^Symbolic link loop \(os error 40\)/,
    );
  });

  await t.step("writeFile: base64 errors, directories, truncation", async () => {
    await assertRpcError(
      client.call("fs/writeFile", { path: uri(`${dir}/w.txt`), dataBase64: "a" }),
      INVALID_REQUEST,
      "fs/writeFile requires valid base64 dataBase64: Invalid input length: 1",
    );
    await assertRpcError(
      client.call("fs/writeFile", { path: uri(`${dir}/w.txt`), dataBase64: "!!!!" }),
      INVALID_REQUEST,
      "fs/writeFile requires valid base64 dataBase64: Invalid symbol 33, offset 0.",
    );
    await assert.rejects(() => Deno.lstat(`${dir}/w.txt`), Deno.errors.NotFound);
    await Deno.mkdir(`${dir}/wdir`);
    await assertRpcError(
      client.call("fs/writeFile", { path: uri(`${dir}/wdir`), dataBase64: "" }),
      INTERNAL,
      /^Is a directory \(os error 21\)/,
    );
    await Deno.writeTextFile(`${dir}/w.txt`, "long old content");
    await client.call("fs/writeFile", { path: uri(`${dir}/w.txt`), dataBase64: b64("new") });
    assert.deepEqual(await Deno.readTextFile(`${dir}/w.txt`), "new");
  });

  await t.step("createDirectory: recursive default, exists, not a directory", async () => {
    await client.call("fs/createDirectory", { path: uri(`${dir}/cd/a/b`) });
    assert((await Deno.stat(`${dir}/cd/a/b`)).isDirectory);
    await client.call("fs/createDirectory", { path: uri(`${dir}/cd/a/b`) });
    await assertRpcError(
      client.call("fs/createDirectory", { path: uri(`${dir}/cd/a`), recursive: false }),
      INTERNAL,
      /^File exists \(os error 17\)/,
    );
    await assertRpcError(
      client.call("fs/createDirectory", { path: uri(`${dir}/cd/x/y`), recursive: false }),
      NOT_FOUND,
      /^No such file or directory \(os error 2\)/,
    );
    await Deno.writeTextFile(`${dir}/cd/file`, "");
    await assertRpcError(
      client.call("fs/createDirectory", { path: uri(`${dir}/cd/file/sub`) }),
      INTERNAL,
      /^Not a directory \(os error 20\)/,
    );
  });

  await t.step("getMetadata: symlinks (stat vs lstat), dangling, loop, directory", async () => {
    await Deno.mkdir(`${dir}/gm/real`, { recursive: true });
    await Deno.symlink(`${dir}/gm/real`, `${dir}/gm/link`);
    const meta = await client.call("fs/getMetadata", { path: uri(`${dir}/gm/link`) });
    assert.deepEqual([meta.isDirectory, meta.isFile, meta.isSymlink], [true, false, true]);
    await assertRpcError(
      client.call("fs/getMetadata", { path: uri(`${dir}/gm/link`), followSymlinks: false }),
      INVALID_REQUEST,
      /^path contains a symbolic link/,
    );
    await Deno.symlink(`${dir}/gm/nowhere`, `${dir}/gm/dangling`);
    await assertRpcError(
      client.call("fs/getMetadata", { path: uri(`${dir}/gm/dangling`) }),
      NOT_FOUND,
      /^No such file or directory \(os error 2\)/,
    );
    await Deno.symlink(`${dir}/gm/l2`, `${dir}/gm/l1`);
    await Deno.symlink(`${dir}/gm/l1`, `${dir}/gm/l2`);
    await assertRpcError(
      client.call("fs/getMetadata", { path: uri(`${dir}/gm/l1`) }),
      INTERNAL,
      /^Symbolic link loop \(os error 40\)/,
    );
  });

  await t.step("canonicalize: missing path and loops", async () => {
    await assertRpcError(
      client.call("fs/canonicalize", { path: uri(`${dir}/nope`) }),
      NOT_FOUND,
      /^No such file or directory \(os error 2\)/,
    );
    await assertRpcError(
      client.call("fs/canonicalize", { path: uri(`${dir}/gm/l1`) }),
      INTERNAL,
      /^Symbolic link loop \(os error 40\)/,
    );
  });

  await t.step("readDirectory: follows symlinks, skips dangling entries", async () => {
    await Deno.mkdir(`${dir}/rd/sub`, { recursive: true });
    await Deno.writeTextFile(`${dir}/rd/f`, "");
    await Deno.symlink(`${dir}/rd/sub`, `${dir}/rd/dirlink`);
    await Deno.symlink(`${dir}/rd/none`, `${dir}/rd/dangling`);
    const { entries } = await client.call("fs/readDirectory", { path: uri(`${dir}/rd`) });
    const byName = Object.fromEntries(
      (entries as { fileName: string; isDirectory: boolean; isFile: boolean }[]).map((
        e,
      ) => [e.fileName, [e.isDirectory, e.isFile]]),
    );
    assert.deepEqual(byName, { sub: [true, false], f: [false, true], dirlink: [true, false] });
    await assertRpcError(
      client.call("fs/readDirectory", { path: uri(`${dir}/rd/f`) }),
      INTERNAL,
      /^Not a directory \(os error 20\)/,
    );
    await assertRpcError(
      client.call("fs/readDirectory", { path: uri(`${dir}/rd/none`) }),
      NOT_FOUND,
      /^No such file or directory \(os error 2\)/,
    );
  });

  await t.step("remove: force/recursive defaults, symlinks removed themselves", async () => {
    await client.call("fs/remove", { path: uri(`${dir}/never-existed`) });
    await assertRpcError(
      client.call("fs/remove", { path: uri(`${dir}/never-existed`), force: false }),
      NOT_FOUND,
      /^No such file or directory \(os error 2\)/,
    );
    await Deno.mkdir(`${dir}/rm/full/deep`, { recursive: true });
    await Deno.writeTextFile(`${dir}/rm/full/deep/f`, "x");
    await assertRpcError(
      client.call("fs/remove", { path: uri(`${dir}/rm/full`), recursive: false }),
      INTERNAL,
      /^Directory not empty \(os error 39\)/,
    );
    await Deno.mkdir(`${dir}/rm/empty`);
    await client.call("fs/remove", { path: uri(`${dir}/rm/empty`), recursive: false });
    await Deno.symlink(`${dir}/rm/full`, `${dir}/rm/link`);
    await client.call("fs/remove", { path: uri(`${dir}/rm/link`) });
    await assert.rejects(() => Deno.lstat(`${dir}/rm/link`), Deno.errors.NotFound);
    assert.deepEqual(await Deno.readTextFile(`${dir}/rm/full/deep/f`), "x");
    await client.call("fs/remove", { path: uri(`${dir}/rm/full`) });
    await assert.rejects(() => Deno.lstat(`${dir}/rm/full`), Deno.errors.NotFound);
    await assertRpcError(
      client.call("fs/remove", { path: uri(`${dir}/rm`), followSymlinks: false }),
      INTERNAL,
      "recursive no-follow removal is unsupported",
    );
  });

  await t.step("copy: symlinks recreated, permissions kept, specials refused", async () => {
    const src = `${dir}/cp/src`;
    await Deno.mkdir(`${src}/sub`, { recursive: true });
    await Deno.writeTextFile(`${src}/run.sh`, "#!/bin/sh\n");
    await Deno.chmod(`${src}/run.sh`, 0o751);
    await Deno.symlink("run.sh", `${src}/rel-link`);
    await Deno.symlink(`${dir}/absent`, `${src}/dangling`);
    await mkfifo(`${src}/sub/fifo`);
    await client.call("fs/copy", {
      sourcePath: uri(src),
      destinationPath: uri(`${dir}/cp/dst`),
      recursive: true,
    });
    assert.deepEqual((await Deno.stat(`${dir}/cp/dst/run.sh`)).mode! & 0o777, 0o751);
    assert.deepEqual(await Deno.readLink(`${dir}/cp/dst/rel-link`), "run.sh");
    assert.deepEqual(await Deno.readLink(`${dir}/cp/dst/dangling`), `${dir}/absent`);
    // The FIFO inside the tree is skipped silently.
    assert.deepEqual([...Deno.readDirSync(`${dir}/cp/dst/sub`)], []);

    await client.call("fs/copy", {
      sourcePath: uri(`${src}/rel-link`),
      destinationPath: uri(`${dir}/cp/link-copy`),
      recursive: false,
    });
    assert.deepEqual(await Deno.readLink(`${dir}/cp/link-copy`), "run.sh");
    await assertRpcError(
      client.call("fs/copy", {
        sourcePath: uri(`${src}/rel-link`),
        destinationPath: uri(`${dir}/cp/link-copy`),
        recursive: false,
      }),
      INTERNAL,
      /^File exists \(os error 17\)/,
    );
    await assertRpcError(
      client.call("fs/copy", {
        sourcePath: uri(`${src}/sub/fifo`),
        destinationPath: uri(`${dir}/cp/fifo-copy`),
        recursive: true,
      }),
      INVALID_REQUEST,
      "fs/copy only supports regular files, directories, and symlinks",
    );
    await assertRpcError(
      client.call("fs/copy", {
        sourcePath: uri(`${dir}/cp/none`),
        destinationPath: uri(`${dir}/cp/x`),
        recursive: false,
      }),
      NOT_FOUND,
      /^No such file or directory \(os error 2\)/,
    );
    await assertRpcError(
      client.call("fs/copy", {
        sourcePath: uri(`${src}/run.sh`),
        destinationPath: uri(`${dir}/cp/missing/x`),
        recursive: false,
      }),
      NOT_FOUND,
      /^No such file or directory \(os error 2\)/,
    );
  });

  await t.step("walk: breadth-first, bounded, truncated", async () => {
    const root = `${dir}/walk`;
    await Deno.mkdir(`${root}/sub/deep`, { recursive: true });
    await Deno.mkdir(`${root}/.hidden/x`, { recursive: true });
    await Deno.writeTextFile(`${root}/a.txt`, "a");
    await Deno.writeTextFile(`${root}/sub/b.txt`, "b");
    await Deno.writeTextFile(`${root}/.hidden/x/c.txt`, "c");
    const walk = (options: Record<string, unknown>) =>
      client.call("fs/walk", {
        path: uri(root),
        options: {
          maxDepth: 10,
          maxDirectories: 100,
          maxEntries: 100,
          followDirectorySymlinks: false,
          ...options,
        },
      });
    const all = await walk({});
    assert.deepEqual(all, {
      entries: [
        { path: uri(`${root}/.hidden`), kind: "directory" },
        { path: uri(`${root}/a.txt`), kind: "file" },
        { path: uri(`${root}/sub`), kind: "directory" },
        { path: uri(`${root}/.hidden/x`), kind: "directory" },
        { path: uri(`${root}/sub/b.txt`), kind: "file" },
        { path: uri(`${root}/sub/deep`), kind: "directory" },
        { path: uri(`${root}/.hidden/x/c.txt`), kind: "file" },
      ],
      errors: [],
      truncated: false,
    });
    const limited = await walk({ maxEntries: 2 });
    assert.deepEqual((limited.entries as unknown[]).length, 2);
    assert.deepEqual(limited.truncated, true);
    const oneDir = await walk({ maxDirectories: 1 });
    assert.deepEqual((oneDir.entries as unknown[]).length, 3);
    assert.deepEqual(oneDir.truncated, true);
    const shallow = await walk({ maxDepth: 0 });
    assert.deepEqual(shallow.truncated, false);
    assert.deepEqual((shallow.entries as unknown[]).length, 3);
    const pruned = await walk({ pruneHiddenDirectories: true });
    assert(!(pruned.entries as { path: string }[]).some((e) => e.path.includes(".hidden/")));
    await assertRpcError(
      walk({ maxEntries: 0 }),
      INVALID_REQUEST,
      "filesystem walk limits must be greater than zero",
    );
    await assertRpcError(
      client.call("fs/walk", { path: uri(`${dir}/none`), options: all }),
      INVALID_PARAMS,
      /^missing field `maxDepth`/,
    );
    await assertRpcError(
      client.call("fs/walk", {
        path: uri(`${dir}/none`),
        options: {
          maxDepth: 1,
          maxDirectories: 1,
          maxEntries: 1,
          followDirectorySymlinks: false,
        },
      }),
      NOT_FOUND,
      /^No such file or directory \(os error 2\)/,
    );
  });

  await t.step("profiles without root read are refused, unrestricted ones run", async () => {
    const path = uri(`${dir}/note.txt`);
    const sandbox = (permissions: unknown) => ({ permissions, windowsSandboxLevel: "disabled" });
    const restricted = sandbox({
      type: "managed",
      file_system: { type: "restricted", entries: [] },
      network: "restricted",
    });
    for (
      const [method, params] of [
        ["fs/readFile", { path }],
        ["fs/writeFile", { path, dataBase64: "" }],
        ["fs/getMetadata", { path }],
        ["fs/readDirectory", { path: uri(dir) }],
        ["fs/remove", { path }],
        ["fs/copy", { sourcePath: path, destinationPath: path, recursive: false }],
        ["fs/open", { handleId: "sandboxed", path }],
      ] as const
    ) {
      await assertRpcError(
        client.call(method, { ...params, sandbox: restricted }),
        INVALID_PARAMS,
        /^sandboxed filesystem calls need read access to `\/`/,
      );
    }
    assert.deepEqual(await Deno.readTextFile(`${dir}/note.txt`), "hello");
    for (
      const permissions of [
        { type: "disabled" },
        { type: "external", network: "restricted" },
        { type: "managed", file_system: { type: "unrestricted" }, network: "restricted" },
      ]
    ) {
      const read = await client.call("fs/readFile", { path, sandbox: sandbox(permissions) });
      assert.deepEqual(unb64(read.dataBase64 as string), "hello");
    }
    await client.call("fs/readFile", { path, sandbox: null });
  });

  await t.step("paths: URIs with escapes, plain absolute paths, foreign URIs", async () => {
    await Deno.writeTextFile(`${dir}/a b#c.txt`, "escaped");
    const read = await client.call("fs/readFile", { path: uri(`${dir}/a b#c.txt`) });
    assert.deepEqual(unb64(read.dataBase64 as string), "escaped");
    const plain = await client.call("fs/readFile", { path: `${dir}/a b#c.txt` });
    assert.deepEqual(unb64(plain.dataBase64 as string), "escaped");
    await assertRpcError(
      client.call("fs/readFile", { path: "file:///C:/x" }),
      INVALID_REQUEST,
      "'file:///C:/x' is invalid on 'linux'",
    );
    await assertRpcError(
      client.call("fs/readFile", { path: "file://srv/share/x" }),
      INVALID_REQUEST,
      "'file://srv/share/x' is invalid on 'linux'",
    );
    await assertRpcError(client.call("fs/readFile", {}), INVALID_PARAMS, "missing field `path`");
  });
});
