/**
 * `deno task check` step for what the docs say:
 *
 * 1. every `@example` in lib/ type-checks (`deno check --doc-only` over each file: a directory
 *    argument checks nothing);
 * 2. `deno doc --lint` on each folder's `mod.ts` (the public surface) reports no more problems
 *    than {@link DOC_LINT_BASELINE} allows. The baseline only goes down: a new `mod.ts` must be
 *    clean, and an existing one may not get worse. Lower a number when you fix its problems.
 * @module
 */

/**
 * `deno doc --lint` problems per `mod.ts` when this check was added (missing JSDoc on exported
 * zod schemas and types, missing explicit types, private type references). Ratchet: only lower.
 */
export const DOC_LINT_BASELINE: Record<string, number> = {
  "lib/cli/mod.ts": 0,
  "lib/client/mod.ts": 45,
  "lib/config/mod.ts": 9,
  "lib/discovery/mod.ts": 7,
  "lib/fs/mod.ts": 21,
  "lib/http/mod.ts": 12,
  "lib/jsonrpc/mod.ts": 17,
  "lib/method/mod.ts": 12,
  "lib/noise/mod.ts": 30,
  "lib/process/mod.ts": 33,
  "lib/protocol/mod.ts": 125,
  "lib/registry/mod.ts": 36,
  "lib/relay/mod.ts": 10,
  "lib/remote/mod.ts": 20,
  "lib/rendezvous/mod.ts": 12,
  "lib/server/mod.ts": 20,
  "lib/transport/mod.ts": 7,
};

async function tsFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory && entry.name !== "gen") out.push(...await tsFiles(path));
    else if (entry.isFile && entry.name.endsWith(".ts")) out.push(path);
  }
  return out.sort();
}

async function deno(args: string[]): Promise<{ ok: boolean; text: string }> {
  const { success, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return { ok: success, text: decoder.decode(stdout) + decoder.decode(stderr) };
}

/**
 * `deno doc --lint` problem count of one module.
 *
 * @example
 * ```ts
 * import { docLintCount } from "./check_docs.ts";
 * await docLintCount("lib/cli/mod.ts"); // 0
 * ```
 */
export async function docLintCount(module: string): Promise<number> {
  const { ok, text } = await deno(["doc", "--lint", module]);
  return ok ? 0 : (text.match(/^error\[/gm) ?? []).length;
}

/**
 * Runs both checks over `root` (default `lib`); returns the problems found, one line each.
 *
 * @example
 * ```ts
 * import { checkDocs } from "./check_docs.ts";
 * (await checkDocs()).length; // 0
 * ```
 */
export async function checkDocs(root = "lib"): Promise<string[]> {
  const problems: string[] = [];
  const examples = await deno(["check", "--doc-only", ...await tsFiles(root)]);
  if (!examples.ok) {
    const lines = examples.text.split("\n").filter((l) => /ERROR|^\s+at file/.test(l));
    problems.push(`@example blocks that do not type-check:\n${lines.join("\n")}`);
  }
  const modules: string[] = [];
  for await (const entry of Deno.readDir(root)) {
    if (!entry.isDirectory) continue;
    try {
      await Deno.stat(`${root}/${entry.name}/mod.ts`);
      modules.push(`${root}/${entry.name}/mod.ts`);
    } catch {
      // a folder without a public surface
    }
  }
  const counts = await Promise.all(modules.sort().map(docLintCount));
  modules.forEach((module, i) => {
    const allowed = DOC_LINT_BASELINE[module] ?? 0;
    if (counts[i] > allowed) {
      problems.push(
        `${module}: deno doc --lint reports ${counts[i]} problems (allowed ${allowed}); ` +
          `run \`deno doc --lint ${module}\` and document what you exported`,
      );
    }
  });
  return problems;
}

if (import.meta.main) {
  const problems = await checkDocs(Deno.args[0]);
  for (const p of problems) console.error(p);
  if (problems.length > 0) Deno.exit(1);
  console.log("docs: every @example type-checks; deno doc --lint within its baseline");
}
