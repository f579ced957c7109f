import assert from "node:assert/strict";
import { BUNDLE_NAME, PERMISSIONS } from "../../scripts/_build_config.ts";
import { smokeArtifact } from "../../scripts/_smoke_artifact.ts";
import { startServerProcess } from "../../scripts/_server_process.ts";
import { RpcClient } from "../../scripts/_bench_rpc.ts";
import { workspaceWrite } from "../sandbox/_profiles.ts";
import { within } from "../_deadline.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const SFX = "codex-exec-server-x86_64-unknown-linux-gnu";
const onLinuxX64 = Deno.build.target === "x86_64-unknown-linux-gnu";

async function buildOffline(out: string): Promise<string> {
  const build = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}scripts/build.ts`, "--offline", "--out", out],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(build.stdout) + new TextDecoder().decode(build.stderr);
  assert.ok(build.success, text);
  return text;
}

Deno.test({
  timeout: 300_000,
  name: "offline build: bundle + self-extracting executable run with no deno on PATH",
  ignore: !onLinuxX64,
  async fn(t) {
    const out = await Deno.makeTempDir({ prefix: "codex-build-test-" });
    try {
      await buildOffline(out);

      await t.step("SHA256SUMS lists both artifacts and verifies", async () => {
        const sums = await new Deno.Command("sha256sum", { args: ["-c", "SHA256SUMS"], cwd: out })
          .output();
        assert.ok(sums.success, new TextDecoder().decode(sums.stdout));
        const listed = (await Deno.readTextFile(`${out}/SHA256SUMS`)).trim().split("\n")
          .map((line) => line.split("  ")[1]).sort();
        assert.deepEqual(listed, [SFX, BUNDLE_NAME].sort());
      });

      await t.step("the self-extracting executable serves pipes and a PTY", async () => {
        const lines: string[] = [];
        await smokeArtifact(`${out}/${SFX}`, { log: (l) => lines.push(l) });
        assert.ok(lines.some((l) => l.startsWith("ok process/start (pty)")), lines.join("\n"));
      });

      await t.step("the bundle runs with deno run and the release permissions", async () => {
        await smokeArtifact(`${out}/${BUNDLE_NAME}`, {
          launcher: [Deno.execPath(), "run", "--no-config", "--no-lock", ...PERMISSIONS],
          log: () => {},
        });
      });

      await t.step(
        "the executable serves a sandboxed fs/readFile (helper with read/write only)",
        async () => {
          // The helper re-runs the bundle with --allow-read --allow-write: it must not evaluate
          // modules that read the environment at load (npm ws did, and every sandboxed fs call
          // of a release artifact failed with NotCapable).
          const ws = await Deno.makeTempDir({ prefix: "codex-build-sandbox-" });
          await using server = await startServerProcess([`${out}/${SFX}`, "serve"], { cwd: ws });
          const client = await within(10_000, "connect", RpcClient.connect(server.url));
          try {
            await within(10_000, "initialize", client.initialize());
            await Deno.writeTextFile(`${ws}/note.txt`, "inside the sandbox");
            const read = await within(
              20_000,
              "fs/readFile",
              client.call("fs/readFile", {
                path: `file://${ws}/note.txt`,
                sandbox: workspaceWrite(ws),
              }),
            );
            assert.equal(atob(read.dataBase64 as string), "inside the sandbox");
          } finally {
            await client.close();
            await Deno.remove(ws, { recursive: true });
          }
        },
      );

      await t.step("concurrent first runs unpack once and all start", async () => {
        const cache = `${out}/cache`;
        const runs = await Promise.all(
          [1, 2, 3, 4].map(() =>
            new Deno.Command(`${out}/${SFX}`, {
              args: ["--version"],
              env: { CODEX_EXEC_SERVER_CACHE_DIR: cache },
              stdout: "piped",
              stderr: "piped",
            }).output()
          ),
        );
        for (const run of runs) {
          assert.ok(run.success, new TextDecoder().decode(run.stderr));
          assert.match(new TextDecoder().decode(run.stdout), /^codex-exec-server \d+\.\d+\.\d+/);
        }
        const entries = [];
        for await (const entry of Deno.readDir(cache)) entries.push(entry.name);
        assert.equal(entries.length, 1, `one unpacked runtime, no leftovers: ${entries}`);
        const inside = [];
        for await (const entry of Deno.readDir(`${cache}/${entries[0]}`)) inside.push(entry.name);
        assert.deepEqual(inside.sort(), ["complete", "deno", "main.js"]);
      });
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  },
});
