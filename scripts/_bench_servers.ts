/**
 * The servers a benchmark line compares: ours (from source, with the release permissions),
 * upstream's Rust `codex exec-server` (npm `@openai/codex`, installed into `bench/upstream/`),
 * and a bare websocket echo server as the floor.
 * @module
 */
import { PERMISSIONS } from "./_build_config.ts";
import { type ServerProcess, startServerProcess } from "./_server_process.ts";
import { runCommand } from "./_build_steps.ts";

const ROOT = new URL("..", import.meta.url).pathname;

/** The upstream release the benchmark compares against. */
export const UPSTREAM_PACKAGE = "@openai/codex@0.169.0";
const UPSTREAM_DIR = `${ROOT}bench/upstream`;

/** Which server a line talks to. */
export type ServerKind = "us" | "upstream";

/** Starts a server by kind; `upstream` needs {@link findUpstream} to have found the binary. */
export type ServerStarter = (kind: ServerKind) => Promise<ServerProcess>;

let profileDir: string | undefined;

/**
 * Makes every process of ours that the benchmark starts write a V8 CPU profile into `dir`
 * (`deno run --cpu-prof`) when it exits; `bench.ts --profile DIR` sets it.
 *
 * @example
 * ```ts
 * setProfileDir("/tmp/profiles");
 * ```
 */
export function setProfileDir(dir: string | undefined): void {
  profileDir = dir;
}

/**
 * `deno run` flags for our processes: the release permissions, plus profiling when asked.
 *
 * @example
 * ```ts
 * new Deno.Command(Deno.execPath(), { args: ["run", ...ourRunFlags(), "main.ts", "serve"] });
 * ```
 */
export function ourRunFlags(): string[] {
  return [...PERMISSIONS, ...(profileDir ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] : [])];
}

/**
 * Starts our server from source with the same permissions the release binaries carry.
 *
 * @example
 * ```ts
 * await using server = await startOurs();
 * ```
 */
export function startOurs(extraArgs: string[] = []): Promise<ServerProcess> {
  return startServerProcess(
    [
      Deno.execPath(),
      "run",
      ...ourRunFlags(),
      `${ROOT}main.ts`,
      "serve",
      "--listen",
      "ws://127.0.0.1:0",
      ...extraArgs,
    ],
    { cwd: ROOT, env: { CODEX_EXEC_SERVER_LOG: "warn" } },
  );
}

/**
 * Starts `codex exec-server` with `CODEX_HOME` pointing at a fresh empty folder.
 *
 * @example
 * ```ts
 * await using server = await startUpstream(binary);
 * ```
 */
export async function startUpstream(binary: string): Promise<ServerProcess> {
  const home = await Deno.makeTempDir({ prefix: "codex-home-" });
  const server = await startServerProcess(
    [binary, "exec-server", "--listen", "ws://127.0.0.1:0"],
    { cwd: ROOT, env: { CODEX_HOME: home, RUST_LOG: "warn" } },
  );
  const stop = server.stop;
  const stopAndClean = async () => {
    await stop();
    await Deno.remove(home, { recursive: true }).catch(() => {});
  };
  return { ...server, stop: stopAndClean, [Symbol.asyncDispose]: stopAndClean };
}

/**
 * Starts the floor: a bare Deno websocket echo server in its own process.
 *
 * @example
 * ```ts
 * await using echo = await startEcho();
 * ```
 */
export function startEcho(): Promise<ServerProcess> {
  return startServerProcess(
    [Deno.execPath(), "run", "--allow-net", `${ROOT}scripts/_bench_echo.ts`],
    { cwd: ROOT },
  );
}

async function locate(): Promise<string | undefined> {
  const vendor = `${UPSTREAM_DIR}/node_modules/@openai`;
  try {
    for await (const pkg of Deno.readDir(vendor)) {
      if (!pkg.name.startsWith("codex-")) continue;
      for await (const triple of Deno.readDir(`${vendor}/${pkg.name}/vendor`)) {
        const bin = `${vendor}/${pkg.name}/vendor/${triple.name}/bin/codex`;
        try {
          await Deno.stat(bin);
          return bin;
        } catch {
          // not this one
        }
      }
    }
  } catch {
    // not installed
  }
  return undefined;
}

/**
 * Finds (installing with npm when asked) the upstream `codex` binary; a string result that is
 * not a path explains why the upstream column is skipped.
 *
 * @example
 * ```ts
 * const found = await findUpstream({ install: true });
 * ```
 */
export async function findUpstream(
  options: { install: boolean },
): Promise<{ binary: string } | { skipped: string }> {
  let binary = await locate();
  if (!binary && options.install) {
    console.error(`installing ${UPSTREAM_PACKAGE} into bench/upstream/ (npm) ...`);
    await Deno.mkdir(UPSTREAM_DIR, { recursive: true });
    const result = await runCommand("npm", {
      args: ["install", "--prefix", UPSTREAM_DIR, "--no-audit", "--no-fund", UPSTREAM_PACKAGE],
    });
    if (!result.success) {
      return { skipped: `npm install ${UPSTREAM_PACKAGE} failed: ${result.stderr.slice(-300)}` };
    }
    binary = await locate();
  }
  if (!binary) {
    return {
      skipped: options.install
        ? `${UPSTREAM_PACKAGE} ships no binary for this platform`
        : `${UPSTREAM_PACKAGE} not installed in bench/upstream/ (run without --no-upstream)`,
    };
  }
  return { binary };
}

/**
 * Resident set size of a process in bytes (Linux `/proc`).
 *
 * @example
 * ```ts
 * await rssBytes(Deno.pid);
 * ```
 */
export async function rssBytes(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const kib = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? NaN);
  return kib * 1024;
}
