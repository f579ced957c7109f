/**
 * The build steps behind `scripts/build.ts`: bundle, `deno compile` per target (detecting an
 * unreachable runtime download), the npm-shipped Deno binary for the offline fallback, and
 * `SHA256SUMS`.
 * @module
 */
import {
  artifactName,
  hostTarget,
  NPM_DENO_PACKAGES,
  PERMISSIONS,
  permissionsFor,
  type Target,
} from "./_build_config.ts";

const ROOT = new URL("..", import.meta.url).pathname;

/** Result of one command run by the build. */
export interface CommandResult {
  success: boolean;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command to completion, capturing its output, killed after `timeoutMs`.
 *
 * @example
 * ```ts
 * const { success } = await runCommand("tar", { args: ["--version"] });
 * ```
 */
export async function runCommand(
  cmd: string,
  options: { args: string[]; cwd?: string; timeoutMs?: number; env?: Record<string, string> },
): Promise<CommandResult> {
  const out = await new Deno.Command(cmd, {
    args: options.args,
    cwd: options.cwd ?? ROOT,
    env: { NO_COLOR: "1", ...options.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(options.timeoutMs ?? 600_000),
  }).output();
  const decoder = new TextDecoder();
  return {
    success: out.success,
    stdout: decoder.decode(out.stdout),
    stderr: decoder.decode(out.stderr),
  };
}

/**
 * Whether `deno compile` failed because it could not download its runtime (`denort`), as
 * opposed to a real build error that must fail the build.
 *
 * @example
 * ```ts
 * isRuntimeDownloadFailure("error: ... dns error: failed to lookup address information"); // true
 * ```
 */
export function isRuntimeDownloadFailure(stderr: string): boolean {
  return /dns error|failed to lookup address|error sending request|Failed downloading|could not be found at|Connection refused|connection reset|timed out|tcp connect error|client error \(Connect\)/i
    .test(stderr);
}

/**
 * `deno bundle`s main.ts into one JS file with a `deno run` shebang carrying the release
 * permissions, so it runs as `./codex-exec-server.js` or `deno run <perms> codex-exec-server.js`.
 *
 * @example
 * ```ts
 * await bundle("dist/codex-exec-server.js");
 * ```
 */
export async function bundle(output: string): Promise<void> {
  const result = await runCommand(Deno.execPath(), {
    // Minified: V8 keeps every function's source for lazy compilation, and the idle server's
    // resident memory drops by ~6 MiB (65.5-67.0 -> 58.8-60.6 MiB after start + initialize).
    args: ["bundle", "--quiet", "--platform", "deno", "--minify", "--output", output, "main.ts"],
  });
  if (!result.success) throw new Error(`deno bundle failed:\n${result.stderr}`);
  const code = await Deno.readTextFile(output);
  const shebang = `#!/usr/bin/env -S deno run --no-config --no-lock ${PERMISSIONS.join(" ")}\n`;
  await Deno.writeTextFile(output, shebang + code.replace(/^#!.*\n/, ""), { mode: 0o755 });
  await Deno.chmod(output, 0o755);
}

/** Outcome of {@link compileTarget}. */
export type CompileOutcome = { ok: true; path: string } | {
  ok: false;
  unreachable: true;
  detail: string;
};

/**
 * `deno compile`s main.ts for one target with the release permissions baked in. Throws on a
 * build error; reports an unreachable runtime download as `{ ok: false, unreachable: true }`.
 *
 * @example
 * ```ts
 * const outcome = await compileTarget("x86_64-unknown-linux-gnu", "dist");
 * ```
 */
export async function compileTarget(target: Target, outDir: string): Promise<CompileOutcome> {
  const path = `${outDir}/${artifactName(target)}`;
  const result = await runCommand(Deno.execPath(), {
    args: [
      "compile",
      "--quiet",
      "--no-check",
      "--target",
      target,
      "--output",
      path,
      ...permissionsFor(target),
      "main.ts",
    ],
  });
  if (result.success) return { ok: true, path };
  if (isRuntimeDownloadFailure(result.stderr)) {
    // The innermost cause ("4: failed to lookup address information: ...") says what failed.
    const causes = result.stderr.split("\n").filter((l) =>
      /^\s*\d+: /.test(l) && !l.includes("<unknown>")
    );
    const detail = causes.at(-1)?.replace(/^\s*\d+: /, "").trim() ?? "";
    return { ok: false, unreachable: true, detail };
  }
  throw new Error(`deno compile --target ${target} failed:\n${result.stderr}`);
}

/**
 * A Deno binary for `target`, as npm ships it: the running Deno (installed from npm) when the
 * target is this machine, otherwise `npm pack` of the platform package into `.deno-bin/`.
 *
 * @example
 * ```ts
 * const deno = await npmDenoBinary("aarch64-unknown-linux-gnu");
 * ```
 */
export async function npmDenoBinary(target: Target): Promise<{ path: string; version: string }> {
  if (target === hostTarget()) return { path: Deno.execPath(), version: Deno.version.deno };
  const pkg = NPM_DENO_PACKAGES[target];
  if (!pkg) throw new Error(`npm ships no Deno binary for ${target}`);
  // npm does not publish every platform for every release (2.9.6 has no linux-arm64): take
  // ours when it exists, else the package's latest. The bundle is plain JS either runs.
  for (const version of [Deno.version.deno, "latest"]) {
    const dir = `${ROOT}.deno-bin/${pkg.replace("/", "_")}-${version}`;
    const binary = `${dir}/package/deno`;
    const versionFile = `${dir}/version`;
    try {
      return { path: binary, version: (await Deno.readTextFile(versionFile)).trim() };
    } catch {
      // not cached yet
    }
    await Deno.mkdir(dir, { recursive: true });
    const packed = await runCommand("npm", {
      args: ["pack", "--json", "--pack-destination", dir, `${pkg}@${version}`],
    });
    if (!packed.success) {
      if (/ETARGET|No matching version/.test(packed.stderr + packed.stdout)) {
        await Deno.remove(dir, { recursive: true });
        continue;
      }
      throw new Error(`npm pack ${pkg}@${version} failed:\n${packed.stderr}`);
    }
    const [info] = JSON.parse(packed.stdout) as { filename: string; version: string }[];
    const tarball = `${dir}/${info.filename.replace(/^@/, "").replace("/", "-")}`;
    const unpacked = await runCommand("tar", { args: ["-xzf", tarball, "-C", dir] });
    if (!unpacked.success) throw new Error(`cannot unpack ${tarball}:\n${unpacked.stderr}`);
    await Deno.remove(tarball);
    await Deno.writeTextFile(versionFile, info.version);
    return { path: binary, version: info.version };
  }
  throw new Error(`npm has no ${pkg} release`);
}

/**
 * Writes `SHA256SUMS` (the `sha256sum` format, checkable with `sha256sum -c`) for `names`.
 *
 * @example
 * ```ts
 * await writeChecksums("dist", ["codex-exec-server.js"]);
 * ```
 */
export async function writeChecksums(outDir: string, names: string[]): Promise<string> {
  const { createHash } = await import("node:crypto");
  const lines: string[] = [];
  for (const name of [...names].sort()) {
    const hash = createHash("sha256");
    const file = await Deno.open(`${outDir}/${name}`);
    for await (const chunk of file.readable) hash.update(chunk);
    lines.push(`${hash.digest("hex")}  ${name}`);
  }
  const path = `${outDir}/SHA256SUMS`;
  await Deno.writeTextFile(path, lines.join("\n") + "\n");
  return path;
}
