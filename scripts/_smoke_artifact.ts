/**
 * Runs a built artifact the way a user would: copied alone into a fresh temporary directory,
 * with a fresh HOME and a PATH that holds no `deno`, then `--version`, `serve`, and one command
 * run through it (the artifact's own `exec` client when it has one, otherwise a JSON-RPC round
 * trip from here). It also touches every permission the binary carries (PTY via FFI, fs, env).
 *
 * @example
 * ```sh
 * deno run -A scripts/_smoke_artifact.ts dist/codex-exec-server-x86_64-unknown-linux-gnu
 * ```
 * @module
 */
import { VERSION } from "./_build_config.ts";
import { RpcClient, type RpcError, runProcess } from "./_bench_rpc.ts";
import { startServerProcess } from "./_server_process.ts";
import { pathToFileURL } from "node:url";

/** Options of {@link smokeArtifact}. */
export interface SmokeOptions {
  /** Prefix of the command line, e.g. `["deno", "run", ...perms]` for the bundle. */
  launcher?: string[];
  /** Progress lines go here (default: stderr). */
  log?: (line: string) => void;
}

async function which(name: string, path: string): Promise<string | undefined> {
  for (const dir of path.split(":")) {
    try {
      await Deno.stat(`${dir}/${name}`);
      return `${dir}/${name}`;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * PATH without `deno`. A directory that holds one (e.g. `/usr/bin` after `npm install -g deno`)
 * is replaced by a copy of it made of symlinks to everything else, so `mkdir` and friends stay.
 */
async function pathWithoutDeno(scratch: string): Promise<string> {
  const kept: string[] = [];
  for (const [index, dir] of (Deno.env.get("PATH") ?? "/usr/bin:/bin").split(":").entries()) {
    if (!dir) continue;
    if (!(await which("deno", dir))) {
      kept.push(dir);
      continue;
    }
    const shim = `${scratch}/path-${index}`;
    await Deno.mkdir(shim, { recursive: true });
    for await (const entry of Deno.readDir(dir)) {
      if (entry.name !== "deno") {
        await Deno.symlink(`${dir}/${entry.name}`, `${shim}/${entry.name}`);
      }
    }
    kept.push(shim);
  }
  return kept.join(":");
}

function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`artifact smoke: ${message}`);
}

/**
 * Smoke-tests one artifact; throws with what went wrong.
 *
 * @example
 * ```ts
 * await smokeArtifact("dist/codex-exec-server-x86_64-unknown-linux-gnu");
 * ```
 */
export async function smokeArtifact(artifact: string, options: SmokeOptions = {}): Promise<void> {
  const log = options.log ?? ((line: string) => console.error(line));
  const dir = await Deno.makeTempDir({ prefix: "codex-smoke-" });
  try {
    const name = artifact.split("/").pop()!;
    const copy = `${dir}/${name}`;
    await Deno.copyFile(artifact, copy);
    await Deno.chmod(copy, 0o755);
    const launcher = options.launcher ?? [];
    const argv = [...launcher, copy];
    const env = { PATH: await pathWithoutDeno(dir), HOME: dir, CODEX_EXEC_SERVER_LOG: "warn" };
    if (launcher.length === 0) assert(!(await which("deno", env.PATH)), "PATH still has deno");

    const version = await new Deno.Command(argv[0], {
      args: [...argv.slice(1), "--version"],
      cwd: dir,
      env,
      clearEnv: true,
    }).output();
    const printed = new TextDecoder().decode(version.stdout).trim();
    assert(version.success, `--version failed: ${new TextDecoder().decode(version.stderr)}`);
    assert(printed === `codex-exec-server ${VERSION}`, `--version printed ${printed}`);
    log(`ok --version: ${printed}`);

    await using server = await startServerProcess(
      [...argv, "serve", "--listen", "ws://127.0.0.1:0"],
      { cwd: dir, env },
    );
    assert(/^ws:\/\/127\.0\.0\.1:\d+$/.test(server.url), `serve printed ${server.url}`);
    log(`ok serve: ${server.url}`);

    const help = await new Deno.Command(argv[0], {
      args: [...argv.slice(1), "--help"],
      cwd: dir,
      env,
    }).output();
    const hasExec = /^\s+exec\s/m.test(new TextDecoder().decode(help.stdout));
    if (hasExec) {
      const exec = await new Deno.Command(argv[0], {
        args: [...argv.slice(1), "exec", "--url", server.url, "--", "echo", "smoke-exec-ok"],
        cwd: dir,
        env,
      }).output();
      const out = new TextDecoder().decode(exec.stdout);
      assert(
        exec.success && out.includes("smoke-exec-ok"),
        `exec failed (${exec.code}): ${out}${new TextDecoder().decode(exec.stderr)}`,
      );
      log("ok exec: echo smoke-exec-ok");
    }

    const client = await RpcClient.connect(server.url);
    try {
      const init = await client.initialize();
      const info = init.environmentInfo as { executorVersion?: string } | undefined;
      assert(info?.executorVersion === VERSION, `executorVersion ${info?.executorVersion}`);
      const piped = await runProcess(client, ["sh", "-c", "echo pipe-ok"], {
        processId: "smoke-pipe",
        cwd: dir,
      });
      assert(piped.output.includes("pipe-ok") && piped.exitCode === 0, `pipe: ${piped.output}`);
      log("ok process/start (pipe): sh -c 'echo pipe-ok'");
      const tty = await runProcess(client, ["sh", "-c", "tty"], {
        processId: "smoke-pty",
        cwd: dir,
        tty: true,
      });
      assert(/\/dev\/pts\/\d+/.test(tty.output), `pty: ${JSON.stringify(tty.output)}`);
      log(`ok process/start (pty): ${tty.output.trim()}`);
      const file = pathToFileURL(`${dir}/smoke.txt`).href;
      const wrote = await client.call("fs/writeFile", { path: file, dataBase64: btoa("fs-ok") })
        .then(() => true, (error) => {
          // -32601: this build does not serve fs/* yet; anything else is a real failure.
          if ((error as RpcError).code !== -32601) throw error;
          return false;
        });
      if (wrote) {
        const read = await client.call("fs/readFile", { path: file });
        assert(atob(read.dataBase64 as string) === "fs-ok", "fs round trip");
        log("ok fs/writeFile + fs/readFile");
      } else {
        log("skipped fs/writeFile: not served by this build");
      }
      const status = await client.call("environment/status");
      assert(status.status === "ready", `environment/status ${JSON.stringify(status)}`);
    } finally {
      await client.close();
    }
    await server.stop();
    const stderr = server.stderr();
    assert(!/NotCapable|PermissionDenied|Requires .* access/.test(stderr), `stderr: ${stderr}`);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) {
  const [artifact, ...launcher] = Deno.args;
  if (!artifact) {
    console.error("usage: _smoke_artifact.ts ARTIFACT [LAUNCHER...]");
    Deno.exit(2);
  }
  try {
    await smokeArtifact(artifact, { launcher });
    console.error(`artifact smoke passed: ${artifact}`);
  } catch (error) {
    console.error((error as Error).message);
    Deno.exit(1);
  }
}
