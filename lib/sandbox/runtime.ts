/**
 * Whether this host can enforce a sandbox, found out once per server: Linux, `bwrap` on PATH, a
 * seccomp syscall table for this architecture, and a probe run that really creates the user,
 * pid and network namespaces and loads the filter (a kernel or container that forbids them
 * fails here, not in the middle of a user's command).
 * @module
 */
import { networkFilter } from "./seccomp.ts";

/** What confined launches need. */
export interface SandboxRuntime {
  /** Absolute path of `bwrap`. */
  bwrap: string;
  /** POSIX shell that opens the filter on fd 3 for bwrap. */
  shell: string;
  /** The seccomp program, readable by the server only; hidden inside every sandbox. */
  filterPath: string;
  /** The server's private directory (holds the filter); hidden inside every sandbox. */
  privateDir: string;
  /** The filter's bytes, compared before each launch so a tampered file is never loaded. */
  filter: Uint8Array;
}

/** Why no sandbox can be enforced here, in words that tell the user what to do. */
export interface SandboxUnavailable {
  reason: string;
}

/** The descriptor bwrap reads the seccomp program from. */
export const FILTER_FD = 3;

/** How the filter gets onto {@link FILTER_FD}: `sh -c SCRIPT FILTER_PATH bwrap ARGS…`. */
export const OPEN_FILTER_SCRIPT = `exec "$@" ${FILTER_FD}<"$0"`;

let cached: Promise<SandboxRuntime | SandboxUnavailable> | undefined;

/**
 * The host's sandbox support, probed on first call and cached for the life of the server.
 *
 * @example
 * ```ts
 * const runtime = await sandboxRuntime();
 * if ("reason" in runtime) console.error(runtime.reason);
 * ```
 */
export function sandboxRuntime(): Promise<SandboxRuntime | SandboxUnavailable> {
  return cached ??= detect();
}

function findOnPath(name: string, searchPath: string): string | undefined {
  for (const dir of searchPath.split(":")) {
    if (!dir.startsWith("/")) continue;
    try {
      const info = Deno.statSync(`${dir}/${name}`);
      if (info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0) return `${dir}/${name}`;
    } catch {
      // not here
    }
  }
  return undefined;
}

const INSTALL_HINT = "install bubblewrap (Debian/Ubuntu: `apt-get install bubblewrap`; " +
  "Fedora: `dnf install bubblewrap`; Arch: `pacman -S bubblewrap`), or start the server with " +
  "`--sandbox-unavailable=run-unconfined` if it already runs inside a container you trust";

async function detect(): Promise<SandboxRuntime | SandboxUnavailable> {
  if (Deno.build.os !== "linux") {
    return {
      reason: `sandboxing is only implemented on Linux (this host runs ${Deno.build.os}); ` +
        "start the server with `--sandbox-unavailable=run-unconfined` to run sandboxed requests " +
        "without confinement",
    };
  }
  const path = Deno.env.get("PATH") ?? "/usr/local/bin:/usr/bin:/bin";
  const bwrap = findOnPath("bwrap", path);
  if (!bwrap) return { reason: `bubblewrap (\`bwrap\`) is not on PATH: ${INSTALL_HINT}` };
  const shell = findOnPath("sh", "/bin:/usr/bin") ?? "/bin/sh";
  let filter: Uint8Array;
  try {
    filter = networkFilter();
  } catch (err) {
    return { reason: `${(err as Error).message}: ${INSTALL_HINT}` };
  }
  const privateDir = await Deno.makeTempDir({ prefix: "codex-exec-server-sandbox-" });
  await Deno.chmod(privateDir, 0o700);
  const filterPath = `${privateDir}/network.bpf`;
  await Deno.writeFile(filterPath, filter, { mode: 0o400 });
  globalThis.addEventListener("unload", () => {
    try {
      Deno.removeSync(privateDir, { recursive: true });
    } catch {
      // already gone
    }
  });
  const runtime: SandboxRuntime = { bwrap, shell, filterPath, privateDir, filter };
  const failure = await probe(runtime);
  if (failure) {
    return { reason: `bubblewrap cannot create a sandbox here (${failure}): ${INSTALL_HINT}` };
  }
  return runtime;
}

async function probe(runtime: SandboxRuntime): Promise<string | undefined> {
  const args = [
    "-c",
    OPEN_FILTER_SCRIPT,
    runtime.filterPath,
    runtime.bwrap,
    "--die-with-parent",
    "--ro-bind",
    "/",
    "/",
    "--dev",
    "/dev",
    "--unshare-user",
    "--unshare-pid",
    "--unshare-ipc",
    "--unshare-net",
    "--proc",
    "/proc",
    "--cap-drop",
    "ALL",
    "--seccomp",
    String(FILTER_FD),
    "--",
    runtime.shell,
    "-c",
    "exit 0",
  ];
  try {
    const out = await new Deno.Command(runtime.shell, {
      args,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).output();
    if (out.success) return undefined;
    const text = new TextDecoder().decode(out.stderr).trim();
    return text || `exit code ${out.code}`;
  } catch (err) {
    return (err as Error).message;
  }
}

/**
 * Whether the filter file still holds exactly what we wrote (a root-write sandbox or another
 * local user could have replaced it); checked before each launch.
 *
 * @example
 * ```ts
 * import type { SandboxRuntime } from "./runtime.ts";
 * declare const runtime: SandboxRuntime;
 * if (!filterIntact(runtime)) throw new Error("seccomp filter file was modified");
 * ```
 */
export function filterIntact(runtime: SandboxRuntime): boolean {
  try {
    const bytes = Deno.readFileSync(runtime.filterPath);
    return bytes.length === runtime.filter.length &&
      bytes.every((b, i) => b === runtime.filter[i]);
  } catch {
    return false;
  }
}
