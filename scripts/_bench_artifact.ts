/**
 * The release artifact the start-up line measures: `dist/`'s single-file executable for this
 * machine (a real `deno compile` binary where one was built, else the offline self-extracting
 * one), rebuilt with `scripts/build.ts --offline` (~8 s) when it is missing or older than any
 * source file, so the bench never times a stale build.
 * @module
 */
import { artifactName, BUNDLE_NAME, hostTarget, PERMISSIONS } from "./_build_config.ts";
import { runCommand } from "./_build_steps.ts";

const ROOT = new URL("..", import.meta.url).pathname;

/** How to start the artifact: argv before the subcommand, and the environment it needs. */
export interface Artifact {
  argv: string[];
  env: Record<string, string>;
  /** What was started and whether this run built it. */
  label: string;
}

async function newestSourceMtime(): Promise<number> {
  let newest = 0;
  const visit = async (path: string) => {
    const info = await Deno.stat(path);
    if (info.isDirectory) {
      for await (const entry of Deno.readDir(path)) await visit(`${path}/${entry.name}`);
    } else {
      newest = Math.max(newest, info.mtime?.getTime() ?? 0);
    }
  };
  for (const path of ["main.ts", "lib", "deno.json", "deno.lock", "scripts/build.ts"]) {
    await visit(`${ROOT}${path}`).catch(() => {});
  }
  for await (const entry of Deno.readDir(`${ROOT}scripts`)) {
    if (entry.name.startsWith("_build")) await visit(`${ROOT}scripts/${entry.name}`);
  }
  return newest;
}

async function mtime(path: string): Promise<number | null> {
  try {
    return (await Deno.stat(path)).mtime?.getTime() ?? 0;
  } catch {
    return null;
  }
}

/**
 * Finds (building when missing or stale) the release artifact for this machine. `cacheDir` is
 * where a self-extracting executable unpacks (a scratch folder, so the user's cache is untouched).
 *
 * @example
 * ```ts
 * const artifact = await releaseArtifact("/tmp/cache", console.error);
 * ```
 */
export async function releaseArtifact(
  cacheDir: string,
  log: (line: string) => void,
): Promise<Artifact> {
  const host = hostTarget();
  const binary = host ? `${ROOT}dist/${artifactName(host)}` : undefined;
  const bundle = `${ROOT}dist/${BUNDLE_NAME}`;
  const wanted = binary ?? bundle;
  const sources = await newestSourceMtime();
  const built = await mtime(wanted);
  let label = "";
  if (built === null || built < sources) {
    log(`  building the release artifact (${built === null ? "missing" : "stale"}) ...`);
    const result = await runCommand(Deno.execPath(), {
      args: ["run", "-A", `${ROOT}scripts/build.ts`, "--offline"],
    });
    if (!result.success) throw new Error(`scripts/build.ts --offline failed: ${result.stderr}`);
    label = ", built by this run";
  }
  if (binary && await mtime(binary) !== null) {
    return {
      argv: [binary],
      env: { CODEX_EXEC_SERVER_CACHE_DIR: cacheDir },
      label: `dist/${artifactName(host!)}${label}`,
    };
  }
  return {
    argv: [Deno.execPath(), "run", "--no-config", "--no-lock", ...PERMISSIONS, bundle],
    env: {},
    label: `deno run dist/${BUNDLE_NAME}${label}`,
  };
}
