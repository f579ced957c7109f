/**
 * Release build: `deno compile` for every target with the release permissions baked in, into
 * `dist/codex-exec-server-<triple>[.exe]` plus `dist/SHA256SUMS`.
 *
 * `deno compile` downloads its runtime (`denort`) from the Deno release host. Where that host is
 * unreachable the build says so in one line and falls back to what works offline: the bundle
 * (`dist/codex-exec-server.js`, runnable with `deno run`) and a self-extracting executable per
 * fallback target made from the Deno binary npm ships (Linux x86_64 by default).
 *
 * Flags: `--offline` (skip `deno compile`), `--no-fallback` (fail instead of falling back: the
 * release workflow publishes only real `deno compile` binaries), `--targets a,b` (default: all),
 * `--fallback-targets a,b|all` (default: x86_64-unknown-linux-gnu), `--out DIR` (default: dist).
 *
 * @example
 * ```sh
 * deno task compile            # real binaries where possible, else the offline fallback
 * deno task bundle             # offline artifacts only
 * ```
 * @module
 */
import { parseArgs } from "node:util";
import {
  artifactName,
  BUNDLE_NAME,
  hostTarget,
  LINUX_PERMISSIONS,
  NARROW_PERMISSIONS,
  NPM_DENO_PACKAGES,
  type Target,
  TARGETS,
  VERSION,
} from "./_build_config.ts";
import {
  bundle,
  compileTarget,
  npmDenoBinary,
  runCommand,
  writeChecksums,
} from "./_build_steps.ts";
import { buildSelfExtracting } from "./_build_sfx.ts";

function parseTargets(value: string | undefined, fallback: readonly Target[]): Target[] {
  if (value === undefined) return [...fallback];
  if (value === "all") return [...TARGETS];
  const list = value.split(",").map((s) => s.trim()).filter(Boolean);
  for (const t of list) {
    if (!(TARGETS as readonly string[]).includes(t)) {
      throw new Error(`unknown target \`${t}\`; known: ${TARGETS.join(", ")}`);
    }
  }
  return list as Target[];
}

function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      offline: { type: "boolean", default: false },
      "no-fallback": { type: "boolean", default: false },
      targets: { type: "string" },
      "fallback-targets": { type: "string" },
      out: { type: "string", default: "dist" },
    },
  });
  const root = new URL("..", import.meta.url).pathname;
  const outDir = values.out.startsWith("/") ? values.out : `${root}${values.out}`;
  const targets = parseTargets(values.targets, TARGETS);
  const fallbackTargets = parseTargets(values["fallback-targets"], ["x86_64-unknown-linux-gnu"])
    .filter((t) => NPM_DENO_PACKAGES[t]);

  await Deno.mkdir(outDir, { recursive: true });
  for await (const entry of Deno.readDir(outDir)) {
    if (entry.name.startsWith("codex-exec-server") || entry.name === "SHA256SUMS") {
      await Deno.remove(`${outDir}/${entry.name}`);
    }
  }
  console.error(
    `codex-exec-server ${VERSION}: permissions ${NARROW_PERMISSIONS.join(" ")} ` +
      `(Linux: ${LINUX_PERMISSIONS.join(" ")}, see scripts/_build_config.ts)`,
  );

  const artifacts: string[] = [];
  await bundle(`${outDir}/${BUNDLE_NAME}`);
  artifacts.push(BUNDLE_NAME);

  let compiled = false;
  if (!values.offline) {
    for (const target of targets) {
      const outcome = await compileTarget(target, outDir);
      if (!outcome.ok && values["no-fallback"]) {
        throw new Error(`deno compile --target ${target} failed: ${outcome.detail}`);
      }
      if (!outcome.ok) {
        console.error(
          `deno compile: cannot download the Deno runtime (denort) from the Deno release host ` +
            `(${outcome.detail || "network error"}); falling back to offline builds: ` +
            `${BUNDLE_NAME} + self-extracting ${fallbackTargets.join(", ")}`,
        );
        break;
      }
      compiled = true;
      artifacts.push(artifactName(target));
    }
  }

  if (!compiled) {
    for (const target of fallbackTargets) {
      const deno = await npmDenoBinary(target);
      await buildSelfExtracting({
        denoBinary: deno.path,
        bundle: `${outDir}/${BUNDLE_NAME}`,
        output: `${outDir}/${artifactName(target)}`,
        target,
        denoVersion: deno.version,
      });
      artifacts.push(artifactName(target));
    }
  }

  // A binary that cannot report its own version is not shipped.
  const host = hostTarget();
  if (host && artifacts.includes(artifactName(host))) {
    const check = await runCommand(`${outDir}/${artifactName(host)}`, { args: ["--version"] });
    if (!check.success || check.stdout.trim() !== `codex-exec-server ${VERSION}`) {
      throw new Error(`${artifactName(host)} --version printed ${check.stdout}${check.stderr}`);
    }
  }

  await writeChecksums(outDir, artifacts);
  for (const name of [...artifacts, "SHA256SUMS"]) {
    const { size } = await Deno.stat(`${outDir}/${name}`);
    console.log(`${outDir}/${name}  ${mib(size)}`);
  }
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exit(await main());
  } catch (error) {
    console.error(`build failed: ${(error as Error).message}`);
    Deno.exit(1);
  }
}
