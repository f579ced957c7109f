import assert from "node:assert/strict";
import { startServer } from "../_harness.ts";
import { runCli } from "./_cli.ts";
import { spawnMain } from "../_harness.ts";

Deno.test({
  name: "everyday OS errors are one line: port in use, fs cat | head, get into a missing folder",
  timeout: 60_000,
}, async () => {
  await using server = await startServer();
  const port = new URL(server.url).port;
  const [serve, rendezvous] = await Promise.all([
    runCli(["serve", "--listen", `ws://127.0.0.1:${port}`]),
    runCli(["rendezvous", "--listen", `http://127.0.0.1:${port}`]),
  ]);
  for (const result of [serve, rendezvous]) {
    assert.equal(result.code, 1, result.stderr);
    assert.match(
      result.stderr,
      new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: the address is already in use`),
    );
    assert.doesNotMatch(result.stderr, /\n\s+at /, "no stack trace");
  }
  const dir = Deno.makeTempDirSync();
  Deno.writeFileSync(`${dir}/big`, new Uint8Array(8 * 1024 * 1024).fill(65));
  // `fs cat BIG | head -c 10`: head leaves early, fs exits quietly with 141 as for SIGPIPE.
  const pipeline = await new Deno.Command("sh", {
    args: [
      "-c",
      `'${Deno.execPath()}' run -A main.ts fs cat --url ${server.url} ${dir}/big 2>${dir}/err | ` +
      `head -c 10 >/dev/null; echo "\${PIPESTATUS:-}"`,
    ],
    cwd: new URL("../..", import.meta.url).pathname,
    env: { CODEX_EXEC_SERVER_LOG: "warn" },
  }).output();
  assert.equal(pipeline.code, 0);
  assert.equal(Deno.readTextFileSync(`${dir}/err`), "", "fs cat | head says nothing");
  const get = await runCli(["fs", "get", "--url", server.url, `${dir}/big`, `${dir}/no/such/x`]);
  assert.equal(get.code, 1);
  assert.equal(
    get.stderr,
    `error: cannot write ${dir}/no/such/x: the local folder ${dir}/no/such does not exist; ` +
      "create it first or pick another LOCAL path\n",
  );
});

Deno.test({ name: "fs cat | head exits 141 without a word", timeout: 60_000 }, async () => {
  await using server = await startServer();
  const dir = Deno.makeTempDirSync();
  Deno.writeFileSync(`${dir}/big`, new Uint8Array(8 * 1024 * 1024).fill(65));
  const child = spawnMain(["fs", "cat", "--url", server.url, `${dir}/big`], {
    CODEX_EXEC_SERVER_LOG: "warn",
  });
  const reader = child.stdout.getReader();
  await reader.read(); // the first bytes arrived; now the reader goes away
  await reader.cancel();
  const [status, stderr] = await Promise.all([
    child.status,
    new Response(child.stderr).text(),
  ]);
  assert.equal(status.code, 141, stderr);
  assert.equal(stderr, "");
});

Deno.test({
  name: "messages that say what to do: missing parents, program after --, did you mean",
  timeout: 60_000,
}, async () => {
  await using server = await startServer();
  const dir = Deno.makeTempDirSync();
  Deno.writeTextFileSync(`${dir}/local.txt`, "hi\n");
  const u = ["--url", server.url];
  const [mkdir, put, stray, typo, command, fsTypo, help, version, sh, cwd, getR] = await Promise
    .all([
      runCli(["fs", "mkdir", ...u, `${dir}/a/b/c`]),
      runCli(["fs", "put", ...u, `${dir}/local.txt`, `${dir}/missing/x`]),
      runCli(["exec", ...u, "ls", "-la"]),
      runCli(["exec", "--urll", server.url, "--", "true"]),
      runCli(["exce"]),
      runCli(["fs", "lss", ...u]),
      runCli(["help", "exec"]),
      runCli(["exec", "--version"]),
      runCli(["exec", ...u, "--", "ls | wc -l"]),
      runCli(["exec", ...u, "--cwd", "tests", "--", "pwd"]),
      runCli(["fs", "get", "-r", ...u, dir]),
    ]);
  assert.equal(mkdir.code, 1);
  assert.match(
    mkdir.stderr,
    new RegExp(`its parent ${dir}/a/b does not exist; use \`fs mkdir -p\``),
  );
  assert.equal(put.code, 1);
  assert.match(put.stderr, new RegExp(`remote folder ${dir}/missing does not exist`));
  assert.match(put.stderr, /fs mkdir -p/);
  assert.equal(stray.code, 2);
  assert.match(stray.stderr, /unknown option `-l`; options of the program go after `--`/);
  assert.doesNotMatch(stray.stderr, /'--/, "no half-quoted parseArgs text");
  assert.equal(typo.code, 2);
  assert.match(typo.stderr, /unknown option `--urll` \(did you mean `--url`\?\)/);
  assert.equal(command.code, 2);
  assert.match(command.stderr, /unknown command `exce` \(did you mean `exec`\?\)/);
  assert.ok(command.stderr.split("\n").length < 5, `short: ${command.stderr}`);
  assert.match(fsTypo.stderr, /unknown fs command `lss` \(did you mean `ls`\?\)/);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: codex-exec-server exec /);
  assert.equal(version.code, 0);
  assert.match(version.stdout, /^codex-exec-server \d+\.\d+\.\d+/);
  assert.equal(sh.code, 127);
  assert.match(sh.stderr, /run it with a shell: exec -- sh -c 'ls \| wc -l'/);
  assert.equal(cwd.code, 0, cwd.stderr);
  assert.match(cwd.stdout, /\/tests\n$/);
  assert.equal(getR.code, 2);
  assert.match(getR.stderr, /fs get copies one file; -r is for rm and cp/);
});

Deno.test(
  { name: "fs cp FILE DIR/ copies into the directory, as cp(1)", timeout: 60_000 },
  async () => {
    await using server = await startServer();
    const dir = Deno.makeTempDirSync();
    Deno.mkdirSync(`${dir}/into`);
    Deno.writeTextFileSync(`${dir}/f.txt`, "content\n");
    const [slash, bare] = [
      await runCli(["fs", "cp", "--url", server.url, `${dir}/f.txt`, `${dir}/into/`]),
      await runCli(["fs", "cp", "--url", server.url, `${dir}/f.txt`, `${dir}/into`]),
    ];
    assert.equal(slash.code, 0, slash.stderr);
    assert.equal(bare.code, 0, bare.stderr);
    assert.equal(Deno.readTextFileSync(`${dir}/into/f.txt`), "content\n");
  },
);

Deno.test({
  name: "registry: usage errors exit 2, a wrong token and an unknown executor get the right advice",
  timeout: 60_000,
}, async () => {
  const dir = Deno.makeTempDirSync();
  Deno.writeTextFileSync(`${dir}/token`, "right-token\n");
  const rendezvous = spawnMain(["rendezvous", "--token-file", `${dir}/token`], {
    CODEX_EXEC_SERVER_LOG: "warn",
  });
  const reader = rendezvous.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let first = "";
  while (!first.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("rendezvous printed no URL");
    first += value;
  }
  const base = first.split("\n")[0];
  try {
    const env = (token: string) => ({ env: { CODEX_EXEC_SERVER_REMOTE_BEARER_TOKEN: token } });
    const [scheme, badId, wrongToken, unknown] = await Promise.all([
      runCli(["exec", "--registry", "ftp://x", "--executor-id", "e", "--", "true"], env("t")),
      runCli(["exec", "--registry", base, "--executor-id", "a b", "--", "true"], env("t")),
      runCli(["exec", "--registry", base, "--executor-id", "e1", "--", "true"], env("wrong")),
      runCli(
        ["exec", "--registry", base, "--executor-id", "nobody", "--", "true"],
        env("right-token"),
      ),
    ]);
    assert.equal(scheme.code, 2, scheme.stderr);
    assert.match(scheme.stderr, /--registry expects the registry's http:\/\/ or https:\/\//);
    assert.equal(badId.code, 2, badId.stderr);
    assert.match(badId.stderr, /--executor-id: executor id `a b` is invalid/);
    assert.equal(wrongToken.code, 255);
    assert.match(wrongToken.stderr, /CODEX_EXEC_SERVER_REMOTE_BEARER_TOKEN/);
    assert.doesNotMatch(wrongToken.stderr, /ws-token-file|CODEX_EXEC_SERVER_TOKEN\b/);
    assert.equal(unknown.code, 255);
    assert.match(unknown.stderr, /Check --executor-id/);
    assert.doesNotMatch(unknown.stderr, /exec-server serve|--url/);
  } finally {
    rendezvous.kill("SIGTERM");
    await reader.cancel();
    await rendezvous.status;
    await rendezvous.stderr.cancel();
  }
});

Deno.test({
  name: "deno task style `remote -- --help` works; the server logs a refused token",
  timeout: 60_000,
}, async () => {
  const remote = await runCli(["remote", "--", "--help"]);
  assert.equal(remote.code, 0, remote.stderr);
  assert.match(remote.stdout, /Usage: codex-exec-server remote/);
  const dir = Deno.makeTempDirSync();
  Deno.writeTextFileSync(`${dir}/token`, "server-token\n");
  await using server = await startServer({
    args: ["--ws-token-file", `${dir}/token`],
    env: { CODEX_EXEC_SERVER_LOG: "warn" },
  });
  const refused = await runCli(["exec", "--url", server.url, "--", "true"], {
    env: { CODEX_EXEC_SERVER_TOKEN: "not-it" },
  });
  assert.equal(refused.code, 255);
  const deadline = Date.now() + 5000;
  while (!/refused a websocket upgrade from 127\.0\.0\.1:\d+/.test(server.stderr())) {
    if (Date.now() > deadline) throw new Error(`no refusal logged: ${server.stderr()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.doesNotMatch(server.stderr(), /not-it|server-token/, "no token in the log");
});

Deno.test({
  name: "Ctrl-C during fs get removes the partial download and says so",
  timeout: 60_000,
}, async () => {
  await using server = await startServer();
  const dir = Deno.makeTempDirSync();
  // A sparse 4 GiB file: the download runs for seconds, and is interrupted at its start.
  const sparse = await Deno.open(`${dir}/slow`, { write: true, create: true });
  await sparse.truncate(4 * 1024 ** 3);
  sparse.close();
  const child = spawnMain(
    ["fs", "get", "--url", server.url, `${dir}/slow`, `${dir}/copy`],
    { CODEX_EXEC_SERVER_LOG: "warn" },
  );
  const stderr = new Response(child.stderr).text();
  child.stdout.cancel();
  child.stdin.close();
  try {
    const deadline = Date.now() + 10_000;
    while (
      !(() => {
        try {
          return Deno.statSync(`${dir}/copy.codex-part`).isFile;
        } catch {
          return false;
        }
      })()
    ) {
      if (Date.now() > deadline) throw new Error("the download never started");
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill("SIGINT");
    const status = await child.status;
    assert.equal(status.code, 130);
    assert.match(await stderr, /interrupted; removed the partial download .*copy\.codex-part/);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), ["slow"]);
  } finally {
    await child.status;
  }
});

Deno.test(
  { name: "fs get and put keep the executable bit, as scp does", timeout: 60_000 },
  async () => {
    await using server = await startServer();
    const dir = Deno.makeTempDirSync();
    Deno.writeTextFileSync(`${dir}/tool.sh`, "#!/bin/sh\necho hi\n");
    Deno.chmodSync(`${dir}/tool.sh`, 0o755);
    Deno.writeTextFileSync(`${dir}/plain.txt`, "text\n");
    Deno.chmodSync(`${dir}/plain.txt`, 0o644);
    Deno.mkdirSync(`${dir}/remote`);
    Deno.mkdirSync(`${dir}/local`);
    const u = ["--url", server.url];
    for (const name of ["tool.sh", "plain.txt"]) {
      const put = await runCli(["fs", "put", ...u, `${dir}/${name}`, `${dir}/remote/`]);
      assert.equal(put.code, 0, put.stderr);
      const get = await runCli(["fs", "get", ...u, `${dir}/${name}`, `${dir}/local/`]);
      assert.equal(get.code, 0, get.stderr);
    }
    const x = (path: string) => (Deno.statSync(path).mode! & 0o111) !== 0;
    assert.equal(x(`${dir}/remote/tool.sh`), true, "put kept x");
    assert.equal(x(`${dir}/local/tool.sh`), true, "get kept x");
    assert.equal(x(`${dir}/remote/plain.txt`), false);
    assert.equal(x(`${dir}/local/plain.txt`), false);
  },
);
