import assert from "node:assert/strict";
import fsp from "node:fs/promises";
import { ioError, isNotFound, osError, osErrorText } from "../../lib/fs/io_error.ts";
import { RpcError } from "../../lib/jsonrpc/errors.ts";

async function caught(task: () => Promise<unknown>): Promise<unknown> {
  try {
    await task();
  } catch (err) {
    return err;
  }
  throw new Error("expected a failure");
}

Deno.test({
  name: "I/O errors map to upstream codes with Rust texts and the failing path",
  timeout: 15_000,
}, async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/file`, "x");
    await Deno.mkdir(`${dir}/full/sub`, { recursive: true });
    await Deno.symlink(`${dir}/loop`, `${dir}/loop`);

    const notFound = ioError(await caught(() => Deno.stat(`${dir}/none`)));
    assert.equal(notFound.code, -32004);
    assert.equal(notFound.message, `No such file or directory (os error 2): stat '${dir}/none'`);

    const nodeNotFound = ioError(await caught(() => fsp.open(`${dir}/none`)));
    assert.equal(nodeNotFound.code, -32004);
    assert.equal(
      nodeNotFound.message,
      `No such file or directory (os error 2): open '${dir}/none'`,
    );

    const cases: [() => Promise<unknown>, number, RegExp][] = [
      [() => Deno.mkdir(`${dir}/file`), -32603, /^File exists \(os error 17\)/],
      [() => Deno.remove(`${dir}/full`), -32603, /^Directory not empty \(os error 39\)/],
      [() => Deno.readTextFile(`${dir}/file/x`), -32603, /^Not a directory \(os error 20\)/],
      [() => Deno.readTextFile(`${dir}/full`), -32603, /^Is a directory \(os error 21\)/],
      [() => Deno.stat(`${dir}/loop`), -32603, /^Symbolic link loop \(os error 40\)/],
    ];
    for (const [task, code, message] of cases) {
      const error = ioError(await caught(task));
      assert.equal(error.code, code, error.message);
      assert.match(error.message, message);
      assert(error.message.includes(dir), `${error.message} does not name the path`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "permission and invalid-input kinds are -32600",
  timeout: 15_000,
}, () => {
  // Running as root makes EACCES hard to provoke; the mapping only looks at the errno name.
  const denied = Object.assign(new Error("EACCES: permission denied, open '/x'"), {
    code: "EACCES",
    syscall: "open",
    path: "/x",
  });
  assert.deepEqual(
    [ioError(denied).code, ioError(denied).message],
    [-32600, "Permission denied (os error 13): open '/x'"],
  );
  assert.equal(osError("EINVAL").code, -32600);
  assert.equal(
    osError("EPERM", { path: "/y" }).message,
    "Operation not permitted (os error 1): '/y'",
  );
  assert.equal(osErrorText("ENOENT"), "No such file or directory (os error 2)");
  assert.equal(ioError(new Deno.errors.PermissionDenied("nope")).code, -32600);
  assert.equal(ioError(new Error("odd")).code, -32603);
  const passthrough = new RpcError(-32600, "kept");
  assert.equal(ioError(passthrough), passthrough);
  assert(isNotFound(new Deno.errors.NotFound("x")));
  assert(!isNotFound(new Error("x")));
});
