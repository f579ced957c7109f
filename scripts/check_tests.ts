/**
 * `deno task check` step: fails when a `Deno.test` in tests/ has no deadline. Deno 2.9's
 * `timeout` option fails a test that runs too long (async hangs and sync hot loops alike), so a
 * broken behaviour fails its test in seconds instead of holding CI until the job is killed.
 * Waits inside a test get their own, shorter deadline with `within()` / `eventually()` from
 * tests/_harness.ts, which name what was awaited.
 * @module
 */

/** Longest deadline a single test may declare (the offline build test is the slowest). */
export const MAX_TIMEOUT_MS = 300_000;

/** One `Deno.test` call without an acceptable `timeout`. */
export interface MissingDeadline {
  file: string;
  line: number;
  reason: string;
}

const STRING = /"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|`(?:[^`\\]|\\.)*`/g;

/**
 * Finds the `Deno.test` calls of one source text that declare no `timeout` (or one above
 * {@link MAX_TIMEOUT_MS}) before their test function.
 *
 * @example
 * ```ts
 * import { missingDeadlines } from "./check_tests.ts";
 * missingDeadlines("a_test.ts", 'Deno.test("x", () => {});').length; // 1
 * missingDeadlines("a_test.ts", 'Deno.test("x", { timeout: 5000 }, () => {});').length; // 0
 * ```
 */
export function missingDeadlines(file: string, text: string): MissingDeadline[] {
  const found: MissingDeadline[] = [];
  // String literals blanked (same length, so line numbers hold): a test name containing "=>"
  // or "timeout:", or source text in a string, cannot fool the check.
  const code = text.replace(STRING, (literal) => literal.replace(/[^\n]/g, " "));
  for (const match of code.matchAll(/\bDeno\.test\(/g)) {
    const line = code.slice(0, match.index).split("\n").length;
    const rest = code.slice(match.index + match[0].length, match.index + 2000);
    const fnAt = rest.search(/=>|\bfunction\b|\bfn\s*[:(]|\basync\s+fn\b/);
    const head = fnAt < 0 ? rest : rest.slice(0, fnAt);
    const timeout = /\btimeout\s*:\s*([\d_]+)/.exec(head);
    if (!timeout) {
      found.push({ file, line, reason: "no `timeout` option (add e.g. { timeout: 30_000 })" });
    } else if (Number(timeout[1].replaceAll("_", "")) > MAX_TIMEOUT_MS) {
      found.push({ file, line, reason: `timeout ${timeout[1]} is over ${MAX_TIMEOUT_MS} ms` });
    }
  }
  return found;
}

/**
 * Checks every `*_test.ts` under `root`.
 *
 * @example
 * ```ts
 * import { checkTests } from "./check_tests.ts";
 * (await checkTests("tests")).length; // 0 when every test has a deadline
 * ```
 */
export async function checkTests(root: string): Promise<MissingDeadline[]> {
  const found: MissingDeadline[] = [];
  async function walk(dir: string): Promise<void> {
    for await (const entry of Deno.readDir(dir)) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory) await walk(path);
      else if (entry.name.endsWith("_test.ts")) {
        found.push(...missingDeadlines(path, await Deno.readTextFile(path)));
      }
    }
  }
  await walk(root);
  return found.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line);
}

if (import.meta.main) {
  const found = await checkTests(Deno.args[0] ?? "tests");
  for (const m of found) console.error(`${m.file}:${m.line}: Deno.test ${m.reason}`);
  if (found.length > 0) {
    console.error(`${found.length} test(s) without a deadline`);
    Deno.exit(1);
  }
  console.log("tests: every Deno.test has a deadline");
}
