/**
 * The offline single-file executable: a POSIX shell header followed by a gzipped tar of the Deno
 * binary that npm ships and our bundle. `deno compile` needs a runtime (`denort`) that only the
 * Deno release host serves, and npm ships none, so this is how a machine that can reach only npm
 * still produces one file that runs with no Deno installed.
 *
 * The first run unpacks into a per-user cache keyed by version and payload hash (atomically, so
 * concurrent first runs are safe); later runs `exec` the cached runtime directly.
 * @module
 */
import { permissionsFor, type Target, VERSION } from "./_build_config.ts";

/** Options of {@link buildSelfExtracting}. */
export interface SelfExtractingOptions {
  /** Path of a Deno binary for the target platform. */
  denoBinary: string;
  /** Path of the bundle (`deno bundle` output). */
  bundle: string;
  /** Where to write the executable. */
  output: string;
  /** Target triple: names the header comment and picks the permissions. */
  target: Target;
  /** Version of the embedded Deno, recorded in the header comment. */
  denoVersion: string;
}

/**
 * The shell header. `tail -n +LINE` needs the header's own line count, so the payload line is
 * computed from the rendered text rather than hard-coded.
 *
 * @example
 * ```ts
 * renderHeader({ key: "0.1.0-abcd", target: "x86_64-unknown-linux-gnu", denoVersion: "2.9.6" });
 * ```
 */
export function renderHeader(
  fields: { key: string; target: Target; denoVersion: string },
): string {
  const perms = permissionsFor(fields.target).join(" ");
  const lines = (payloadLine: number) =>
    `#!/bin/sh
# codex-exec-server ${VERSION} for ${fields.target}: self-extracting executable holding the
# Deno ${fields.denoVersion} runtime (from npm) and the bundled server. The first run unpacks
# into \${XDG_CACHE_HOME:-\$HOME/.cache}/codex-exec-server (override: CODEX_EXEC_SERVER_CACHE_DIR).
# Permissions: ${perms}
set -eu
key='${fields.key}'
base="\${HOME:-\${TMPDIR:-/tmp}}"
cache="\${CODEX_EXEC_SERVER_CACHE_DIR:-\${XDG_CACHE_HOME:-$base/.cache}/codex-exec-server}"
dir="$cache/$key"
if [ ! -f "$dir/complete" ]; then
  mkdir -p "$cache"
  tmp=$(mktemp -d "$cache/.unpack.XXXXXX")
  if ! tail -n +${payloadLine} "$0" | gzip -dc | tar -xf - -C "$tmp"; then
    rm -rf "$tmp"
    echo "codex-exec-server: cannot unpack into $cache (set CODEX_EXEC_SERVER_CACHE_DIR)" >&2
    exit 1
  fi
  : >"$tmp/complete"
  # Lost a race with another first run: mv then nests tmp inside the finished dir; drop it.
  mv "$tmp" "$dir" 2>/dev/null || true
  rm -rf "$tmp" "$dir/\${tmp##*/}"
fi
DENO_NO_UPDATE_CHECK=1 exec "$dir/deno" run --no-config --no-lock --no-prompt \\
  ${perms} "$dir/main.js" "$@"
exit 1
`;
  const draft = lines(0);
  const count = draft.split("\n").length - 1;
  return lines(count + 1);
}

async function run(cmd: string, args: string[], cwd?: string): Promise<void> {
  const out = await new Deno.Command(cmd, { args, cwd, stdout: "null", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
}

async function sha256Hex(path: string): Promise<string> {
  const { createHash } = await import("node:crypto");
  const hash = createHash("sha256");
  using file = await Deno.open(path);
  for await (const chunk of file.readable) hash.update(chunk);
  return hash.digest("hex");
}

/**
 * Builds the self-extracting executable and returns its path.
 *
 * @example
 * ```ts
 * await buildSelfExtracting({
 *   denoBinary: Deno.execPath(),
 *   bundle: "dist/codex-exec-server.js",
 *   output: "dist/codex-exec-server-x86_64-unknown-linux-gnu",
 *   target: "x86_64-unknown-linux-gnu",
 *   denoVersion: Deno.version.deno,
 * });
 * ```
 */
export async function buildSelfExtracting(options: SelfExtractingOptions): Promise<string> {
  const stage = await Deno.makeTempDir({ prefix: "codex-sfx-" });
  try {
    await Deno.copyFile(options.denoBinary, `${stage}/deno`);
    await Deno.chmod(`${stage}/deno`, 0o755);
    await Deno.copyFile(options.bundle, `${stage}/main.js`);
    // Fixed owner and mtime keep the payload (and so its cache key) reproducible.
    await run("tar", [
      "-cf",
      `${stage}/payload.tar`,
      "--owner=0",
      "--group=0",
      "--numeric-owner",
      "--mtime=@0",
      "-C",
      stage,
      "deno",
      "main.js",
    ]);
    await run("gzip", ["-n", "-6", `${stage}/payload.tar`]);
    const payload = `${stage}/payload.tar.gz`;
    const key = `${VERSION}-${(await sha256Hex(payload)).slice(0, 16)}`;
    const header = new TextEncoder().encode(
      renderHeader({ key, target: options.target, denoVersion: options.denoVersion }),
    );
    await Deno.writeFile(options.output, header, { mode: 0o755 });
    const out = await Deno.open(options.output, { append: true });
    const input = await Deno.open(payload);
    await input.readable.pipeTo(out.writable);
    await Deno.chmod(options.output, 0o755);
    return options.output;
  } finally {
    await Deno.remove(stage, { recursive: true });
  }
}
