/**
 * Runs a shell line inside a real local PTY (the project's FFI PTY), as a user's terminal: what
 * the terminal shows is collected, keystrokes are typed into it.
 * @module
 */
import { PtySpawner } from "../../lib/process/pty_spawner.ts";
import { ROOT } from "../_harness.ts";

/** A shell running on a local terminal. */
export interface Terminal extends AsyncDisposable {
  /** Everything shown so far. */
  text(): string;
  /** Types bytes (a string is UTF-8). */
  type(keys: string | Uint8Array): Promise<void>;
  /** Resolves once the screen text matches `pattern` (searched from `from`); rejects after `ms`. */
  waitFor(pattern: RegExp, options?: { ms?: number; from?: number }): Promise<void>;
}

/** The CLI as a shell word: `deno run -A main.ts`. */
export const CLI = `'${Deno.execPath()}' run -A '${ROOT}main.ts'`;

/**
 * Starts `sh -c LINE` on a fresh 30x100 terminal.
 *
 * @example
 * ```ts
 * await using term = await openTerminal(`${CLI} --version`);
 * await term.waitFor(/codex-exec-server/);
 * ```
 */
export async function openTerminal(
  line: string,
  env: Record<string, string> = {},
): Promise<Terminal> {
  const child = await new PtySpawner().spawn({
    argv: ["sh", "-c", line],
    cwd: ROOT,
    env: { ...Deno.env.toObject(), TERM: "xterm", CODEX_EXEC_SERVER_LOG: "warn", ...env },
    pipeStdin: false,
    rows: 30,
    cols: 100,
  });
  let text = "";
  let changed = Promise.withResolvers<void>();
  const decoder = new TextDecoder();
  const drained = (async () => {
    for await (const bytes of child.outputs[0].readable) {
      text += decoder.decode(bytes, { stream: true });
      changed.resolve();
      changed = Promise.withResolvers<void>();
    }
  })().catch(() => {});
  return {
    text: () => text,
    async type(keys) {
      await child.write(typeof keys === "string" ? new TextEncoder().encode(keys) : keys);
    },
    async waitFor(pattern, options = {}) {
      const ms = options.ms ?? 10_000;
      const deadline = Date.now() + ms;
      while (!pattern.test(text.slice(options.from ?? 0))) {
        const left = deadline - Date.now();
        if (left <= 0) {
          throw new Error(`terminal never showed ${pattern} within ${ms} ms:\n${text}`);
        }
        let timer: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([
          changed.promise,
          new Promise((resolve) => timer = setTimeout(resolve, left)),
        ]);
        clearTimeout(timer);
      }
    },
    async [Symbol.asyncDispose]() {
      child.signalGroup("SIGKILL");
      await child.exitCode;
      await drained;
    },
  };
}
