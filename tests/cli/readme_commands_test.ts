import assert from "node:assert/strict";
import { ROOT } from "../_harness.ts";
import { runCli } from "./_cli.ts";

const COMMANDS = new Set(["serve", "remote", "rendezvous", "exec", "fs"]);
const TASK_COMMAND: Record<string, string> = {
  start: "serve",
  remote: "remote",
  rendezvous: "rendezvous",
};

/** Shell lines of the README's ```sh blocks, comments and env assignments stripped. */
function readmeLines(): string[] {
  const text = Deno.readTextFileSync(`${ROOT}README.md`);
  const lines: string[] = [];
  for (const block of text.matchAll(/```sh\n([\s\S]*?)```/g)) {
    for (const raw of block[1].split("\n")) {
      for (const part of raw.replace(/\s+#.*$/, "").split(/;\s*/)) {
        const line = part.trim().replace(/^(?:[A-Z_]+=\S+\s+)+/, "");
        if (line) lines.push(line);
      }
    }
  }
  return lines;
}

/** `[subcommand, its arguments]` for a line that runs our CLI, else undefined. */
function cliInvocation(line: string): [string, string[]] | undefined {
  const words = line.split(/\s+/);
  let rest: string[] | undefined;
  if (/^(\.\/)?codex-exec-server(-\S+)?$/.test(words[0])) rest = words.slice(1);
  else if (words[0] === "deno" && words[1] === "run" && words.includes("main.ts")) {
    rest = words.slice(words.indexOf("main.ts") + 1);
  } else if (words[0] === "deno" && words[1] === "task" && TASK_COMMAND[words[2]]) {
    rest = [TASK_COMMAND[words[2]], ...words.slice(3).filter((w, i) => !(i === 0 && w === "--"))];
  }
  if (rest === undefined) return undefined;
  if (rest.length > 0 && COMMANDS.has(rest[0])) return [rest[0], rest.slice(1)];
  return ["serve", rest];
}

Deno.test({
  name: "README: every deno task exists, and every CLI line uses flags its command has",
  timeout: 120_000,
}, async () => {
  const tasks = Object.keys(JSON.parse(Deno.readTextFileSync(`${ROOT}deno.json`)).tasks);
  const help = new Map<string, string>();
  let checked = 0;
  for (const line of readmeLines()) {
    const words = line.split(/\s+/);
    if (words[0] === "deno" && words[1] === "task") {
      assert.ok(
        tasks.includes(words[2]),
        `README runs \`deno task ${words[2]}\`, not in deno.json`,
      );
    }
    const invocation = cliInvocation(line);
    if (!invocation) continue;
    const [command, args] = invocation;
    if (!help.has(command)) {
      const result = await runCli([command, "--help"]);
      assert.equal(result.code, 0, `${command} --help: ${result.stderr}`);
      help.set(command, result.stdout);
    }
    const own = args.includes("--") ? args.slice(0, args.indexOf("--")) : args;
    for (const flag of own.filter((w) => /^--[a-z]/.test(w))) {
      const name = flag.split("=")[0];
      if (name === "--version" || name === "--help") continue;
      assert.match(
        help.get(command)!,
        new RegExp(`${name}\\b`),
        `README line \`${line}\` uses ${name}, which \`${command} --help\` does not list`,
      );
    }
    checked++;
  }
  assert.ok(checked >= 5, `only ${checked} CLI lines found in the README`);
  // The cheap ones run for real, in the README's own forms.
  const version = await runCli(["--version"]);
  assert.equal(version.code, 0);
  assert.match(version.stdout, /^codex-exec-server \d/);
  const taskForm = await runCli(["remote", "--", "--help"]);
  assert.equal(taskForm.code, 0, taskForm.stderr);
});
