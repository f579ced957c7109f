import assert from "node:assert/strict";
import {
  artifactName,
  LINUX_PERMISSIONS,
  NARROW_PERMISSIONS,
  NPM_DENO_PACKAGES,
  permissionsFor,
  TARGETS,
} from "../../scripts/_build_config.ts";
import { isRuntimeDownloadFailure } from "../../scripts/_build_steps.ts";
import { renderHeader } from "../../scripts/_build_sfx.ts";

Deno.test({
  name: "build config: one artifact per target triple, .exe only on Windows",
  timeout: 15_000,
}, () => {
  assert.deepEqual(TARGETS.map(artifactName), [
    "codex-exec-server-x86_64-unknown-linux-gnu",
    "codex-exec-server-aarch64-unknown-linux-gnu",
    "codex-exec-server-x86_64-apple-darwin",
    "codex-exec-server-aarch64-apple-darwin",
    "codex-exec-server-x86_64-pc-windows-msvc.exe",
  ]);
  for (const target of TARGETS) {
    if (!target.includes("windows")) assert.ok(NPM_DENO_PACKAGES[target], target);
  }
});

Deno.test({
  name: "build config: narrow permissions off Linux; Linux needs --allow-all for /proc",
  timeout: 15_000,
}, () => {
  for (const flag of NARROW_PERMISSIONS) {
    assert.match(flag, /^--allow-(net|run|read|write|env|ffi)$/);
  }
  assert.deepEqual(permissionsFor("aarch64-apple-darwin"), NARROW_PERMISSIONS);
  assert.deepEqual(permissionsFor("x86_64-pc-windows-msvc"), NARROW_PERMISSIONS);
  assert.deepEqual(permissionsFor("x86_64-unknown-linux-gnu"), LINUX_PERMISSIONS);
  assert.deepEqual(permissionsFor("aarch64-unknown-linux-gnu"), LINUX_PERMISSIONS);
});

Deno.test({
  timeout: 15_000,
  name: "build config: Deno refuses /proc to the narrow permissions (why Linux gets -A)",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const script = await Deno.makeTempFile({ suffix: ".ts" });
    try {
      await Deno.writeTextFile(script, "Deno.readTextFileSync('/proc/self/stat');\n");
      const run = (flags: readonly string[]) =>
        new Deno.Command(Deno.execPath(), {
          args: ["run", "--no-config", ...flags, script],
          stderr: "piped",
        }).output();
      const narrow = await run(NARROW_PERMISSIONS);
      assert.equal(narrow.success, false);
      assert.match(new TextDecoder().decode(narrow.stderr), /--allow-all/);
      const all = await run(LINUX_PERMISSIONS);
      assert.equal(all.success, true, new TextDecoder().decode(all.stderr));
    } finally {
      await Deno.remove(script);
    }
  },
});

Deno.test({
  name: "build: an unreachable runtime download is told apart from a build error",
  timeout: 15_000,
}, () => {
  const unreachable = `error: Writing deno compile executable to temporary file 'x.tmp'

Caused by:
    0: Setting up base binary.
    1: error sending request for url (https://example.invalid/denort.zip): client error (Connect)
    3: dns error
    4: failed to lookup address information: Name or service not known`;
  assert.equal(isRuntimeDownloadFailure(unreachable), true);
  const typeError =
    "TS2307 [ERROR]: Cannot find module 'file:///x.ts'.\nerror: Type checking failed.";
  assert.equal(isRuntimeDownloadFailure(typeError), false);
});

Deno.test({
  name: "self-extracting header: the payload starts on the line right after the header",
  timeout: 15_000,
}, () => {
  const header = renderHeader({
    key: "0.1.0-test",
    target: "x86_64-unknown-linux-gnu",
    denoVersion: "2.9.6",
  });
  const lines = header.split("\n").length - 1;
  assert.match(header, new RegExp(`tail -n \\+${lines + 1} "\\$0"`));
  assert.ok(header.startsWith("#!/bin/sh\n"));
  assert.ok(header.endsWith("\n"));
  assert.ok(header.includes(`--no-prompt \\\n  ${LINUX_PERMISSIONS.join(" ")} "$dir/main.js"`));
});
