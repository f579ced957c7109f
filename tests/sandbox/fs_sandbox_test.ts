/**
 * Sandboxed `fs/*` calls through the real server (issue 11): they run in a confined helper, so
 * the kernel applies the same rules as to commands, with upstream's codes and texts.
 */
import assert from "node:assert/strict";
import { fileUri, startServer, TestClient } from "../_harness.ts";
import { assertRpcError, b64, unb64 } from "../fs/_session.ts";
import { readOnly, scratchWorkspace, workspaceWrite } from "./_profiles.ts";

const INTERNAL = -32603;
const EROFS = /^Read-only file system \(os error 30\)/;

Deno.test({
  name: "sandboxed fs: workspace-write writes the workspace, never outside or .git",
  timeout: 30_000,
}, async () => {
  await using scratch = await scratchWorkspace();
  const { ws } = scratch;
  await using server = await startServer();
  await using client = await TestClient.connect(server.url);
  await client.initialize();
  const sandbox = workspaceWrite(ws);
  const outside = `/var/tmp/sandboxed-fs-${Date.now()}`;
  try {
    assert.deepEqual(
      await client.call("fs/writeFile", {
        path: fileUri(`${ws}/new.txt`),
        dataBase64: b64("brand new\n"),
        sandbox,
      }),
      {},
    );
    assert.equal(await Deno.readTextFile(`${ws}/new.txt`), "brand new\n");
    await client.call("fs/createDirectory", {
      path: fileUri(`${ws}/src/deep`),
      recursive: true,
      sandbox,
    });
    await client.call("fs/copy", {
      sourcePath: fileUri(`${ws}/new.txt`),
      destinationPath: fileUri(`${ws}/src/deep/copy.txt`),
      recursive: false,
      sandbox,
    });
    assert.equal(await Deno.readTextFile(`${ws}/src/deep/copy.txt`), "brand new\n");
    const read = await client.call("fs/readFile", { path: fileUri("/etc/passwd"), sandbox });
    assert.match(unb64(read.dataBase64 as string), /^root:/);
    await client.call("fs/remove", {
      path: fileUri(`${ws}/src`),
      recursive: true,
      force: false,
      sandbox,
    });
    await assert.rejects(Deno.stat(`${ws}/src`), Deno.errors.NotFound);

    for (
      const [method, params] of [
        ["fs/writeFile", { path: fileUri(outside), dataBase64: b64("x") }],
        ["fs/writeFile", { path: fileUri(`${ws}/.git/config`), dataBase64: b64("x") }],
        ["fs/createDirectory", { path: fileUri(`${ws}/.codex/skills`), recursive: true }],
        ["fs/remove", { path: fileUri(`${ws}/.git/HEAD`), recursive: false, force: false }],
        ["fs/copy", {
          sourcePath: fileUri(`${ws}/new.txt`),
          destinationPath: fileUri(`${ws}/.git/stolen`),
          recursive: false,
        }],
      ] as const
    ) {
      await assertRpcError(client.call(method, { ...params, sandbox }), INTERNAL, EROFS);
    }
    await assert.rejects(Deno.stat(outside), Deno.errors.NotFound);
    assert.equal(await Deno.readTextFile(`${ws}/.git/HEAD`), "ref: refs/heads/main\n");
    await assert.rejects(Deno.lstat(`${ws}/.codex`), Deno.errors.NotFound);
    await assert.rejects(Deno.stat(`${ws}/.git/stolen`), Deno.errors.NotFound);
    // Streaming writes: allowed in the workspace, EROFS outside (open fails, nothing created).
    await client.call("fs/open", {
      handleId: "w",
      path: fileUri(`${ws}/streamed.txt`),
      mode: "replace",
      sandbox,
    });
    await client.call("fs/writeBlock", { handleId: "w", offset: 0, chunk: b64("streamed") });
    await client.call("fs/close", { handleId: "w" });
    assert.equal(await Deno.readTextFile(`${ws}/streamed.txt`), "streamed");
    await assertRpcError(
      client.call("fs/open", { handleId: "o", path: fileUri(outside), mode: "replace", sandbox }),
      INTERNAL,
      EROFS,
    );
    await assert.rejects(Deno.stat(outside), Deno.errors.NotFound);
    // Not-found keeps its own code through the helper.
    await assertRpcError(
      client.call("fs/readFile", { path: fileUri(`${ws}/missing.txt`), sandbox }),
      -32004,
      /^No such file or directory \(os error 2\)/,
    );
  } finally {
    await Deno.remove(outside).catch(() => {});
  }
});

Deno.test({
  name: "sandboxed fs: read-only reads everything and writes nothing",
  timeout: 30_000,
}, async () => {
  await using scratch = await scratchWorkspace();
  const { ws } = scratch;
  await Deno.writeTextFile(`${ws}/keep.txt`, "kept");
  await using server = await startServer();
  await using client = await TestClient.connect(server.url);
  await client.initialize();
  const sandbox = readOnly(ws);
  for (
    const [method, params] of [
      ["fs/writeFile", { path: fileUri(`${ws}/x.txt`), dataBase64: b64("x") }],
      ["fs/createDirectory", { path: fileUri(`${ws}/dir`), recursive: true }],
      ["fs/remove", { path: fileUri(`${ws}/keep.txt`), recursive: false, force: false }],
      ["fs/copy", {
        sourcePath: fileUri(`${ws}/keep.txt`),
        destinationPath: fileUri(`/tmp/ro-copy-${Date.now()}`),
        recursive: false,
      }],
    ] as const
  ) {
    await assertRpcError(client.call(method, { ...params, sandbox }), INTERNAL, EROFS);
  }
  assert.equal(await Deno.readTextFile(`${ws}/keep.txt`), "kept");
  const meta = await client.call("fs/getMetadata", { path: fileUri(`${ws}/keep.txt`), sandbox });
  assert.equal(meta.isFile, true);
  const listing = await client.call("fs/readDirectory", { path: fileUri(ws), sandbox });
  const names = (listing.entries as { fileName: string }[]).map((e) => e.fileName).sort();
  assert.deepEqual(names, [".git", "keep.txt"]);
  const read = await client.call("fs/readFile", { path: fileUri(`${ws}/keep.txt`), sandbox });
  assert.equal(unb64(read.dataBase64 as string), "kept");
  // Block reads work under a sandbox (the helper opened the file; we read our reopened copy).
  await client.call("fs/open", { handleId: "ro", path: fileUri(`${ws}/keep.txt`), sandbox });
  const block = await client.call("fs/readBlock", { handleId: "ro", offset: 0, len: 1024 });
  assert.equal(unb64(block.chunk as string), "kept");
  assert.equal(block.eof, true);
  await client.call("fs/close", { handleId: "ro" });
  await assertRpcError(
    client.call("fs/open", {
      handleId: "rw",
      path: fileUri(`${ws}/keep.txt`),
      mode: "replace",
      sandbox,
    }),
    INTERNAL,
    EROFS,
  );
  assert.equal(await Deno.readTextFile(`${ws}/keep.txt`), "kept");
  await assertRpcError(
    client.call("fs/open", { handleId: "nf", path: fileUri(`${ws}/none.txt`), sandbox }),
    -32004,
    /^No such file or directory \(os error 2\)/,
  );
  const info = await client.call("environment/info");
  assert.equal((info.capabilities as Record<string, boolean>).sandboxedFileStreaming, true);
});

Deno.test({
  name: "sandboxed fs: followSymlinks false works in the helper (no FFI, no /proc/self/fd access)",
  timeout: 30_000,
}, async () => {
  await using scratch = await scratchWorkspace();
  const { ws } = scratch;
  await using server = await startServer();
  await using client = await TestClient.connect(server.url);
  await client.initialize();
  const sandbox = workspaceWrite(ws);
  await Deno.mkdir(`${ws}/real`);
  await Deno.symlink(`${ws}/real`, `${ws}/alias`);
  await client.call("fs/writeFile", {
    path: fileUri(`${ws}/real/n.txt`),
    dataBase64: b64("nofollow"),
    followSymlinks: false,
    sandbox,
  });
  assert.equal(await Deno.readTextFile(`${ws}/real/n.txt`), "nofollow");
  const read = await client.call("fs/readFile", {
    path: fileUri(`${ws}/real/n.txt`),
    followSymlinks: false,
    sandbox,
  });
  assert.equal(unb64(read.dataBase64 as string), "nofollow");
  await assertRpcError(
    client.call("fs/writeFile", {
      path: fileUri(`${ws}/alias/m.txt`),
      dataBase64: b64("x"),
      followSymlinks: false,
      sandbox,
    }),
    INTERNAL,
    /^Not a directory \(os error 20\): '.*\/alias' is a symbolic link and followSymlinks is false/,
  );
  await assert.rejects(Deno.stat(`${ws}/real/m.txt`), Deno.errors.NotFound);
});
