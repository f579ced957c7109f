/**
 * A host without bubblewrap (here: a server whose PATH holds no `bwrap`): sandboxed requests are
 * refused with what to install, unless the server runs with `--sandbox-unavailable=run-unconfined`.
 */
import assert from "node:assert/strict";
import { fileUri, readToClose, startServer, TestClient } from "../_harness.ts";
import { scratchWorkspace, workspaceWrite } from "./_profiles.ts";

const ENV = { PATH: "/usr/bin:/bin" };

Deno.test({
  name: "sandbox unavailable: refused with an install hint, or run unconfined when opted in",
  timeout: 60_000,
}, async () => {
  await using scratch = await scratchWorkspace();
  const { ws } = scratch;
  const start = (processId: string) => ({
    processId,
    argv: ["/bin/sh", "-c", "echo ran"],
    cwd: fileUri(ws),
    env: ENV,
    tty: false,
    sandbox: workspaceWrite(ws),
  });
  {
    await using server = await startServer({ env: { PATH: "/nonexistent" } });
    await using client = await TestClient.connect(server.url);
    await client.initialize();
    const refused = await client.request("process/start", start("p"));
    const error = refused.error as { code: number; message: string };
    assert.equal(error.code, -32600);
    assert.match(error.message, /bubblewrap \(`bwrap`\) is not on PATH/);
    assert.match(error.message, /apt-get install bubblewrap/);
    assert.match(error.message, /--sandbox-unavailable=run-unconfined/);
    const write = await client.request("fs/writeFile", {
      path: fileUri(`${ws}/x.txt`),
      dataBase64: btoa("x"),
      sandbox: workspaceWrite(ws),
    });
    assert.equal((write.error as { code: number }).code, -32600);
    await assert.rejects(Deno.stat(`${ws}/x.txt`), Deno.errors.NotFound);
    // Nothing to confine still runs.
    const plain = await client.call("process/start", { ...start("q"), sandbox: null });
    assert.equal(plain.sandboxType, "none");
  }
  {
    await using server = await startServer({
      args: ["--sandbox-unavailable=run-unconfined"],
      env: { PATH: "/nonexistent" },
    });
    await using client = await TestClient.connect(server.url);
    await client.initialize();
    const started = await client.call("process/start", start("p"));
    assert.equal(started.sandboxType, "none");
    assert.equal((await readToClose(client, "p")).stdout, "ran\n");
  }
});
