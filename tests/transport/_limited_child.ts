/**
 * Starts `main.ts` under a low descriptor limit (`ulimit -n`) in `sh`, reading the first stdout
 * line (the listen URL) and collecting stderr.
 * @module
 */
import { ROOT } from "../_harness.ts";

/** A running child. */
export interface LimitedChild extends AsyncDisposable {
  firstLine: string;
  pid: number;
  stderr(): string;
  alive(): boolean;
  waitForStderr(text: string, timeoutMs?: number): Promise<void>;
}

/** Spawns `sh -c 'ulimit -n N; exec deno run -A main.ts ARGS'`. */
export async function startLimited(
  fdLimit: number,
  args: string[],
  env: Record<string, string> = {},
): Promise<LimitedChild> {
  const child = new Deno.Command("sh", {
    args: ["-c", `ulimit -n ${fdLimit}; exec "$0" run -A main.ts "$@"`, Deno.execPath(), ...args],
    cwd: ROOT,
    env: { CODEX_EXEC_SERVER_LOG: "info", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  const err: string[] = [];
  const errDone = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of child.stderr) err.push(decoder.decode(chunk, { stream: true }));
  })().catch(() => {});
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  const deadline = Date.now() + 20_000;
  while (!out.includes("\n")) {
    const next = await Promise.race([
      reader.read(),
      new Promise<null>((r) => setTimeout(() => r(null), Math.max(1, deadline - Date.now()))),
    ]);
    if (next === null || next.done) {
      try {
        child.kill("SIGKILL");
      } catch {
        // gone
      }
      await status;
      await errDone;
      throw new Error(`child printed no first line; stderr:\n${err.join("")}`);
    }
    out += next.value;
  }
  const outDone = (async () => {
    for (;;) if ((await reader.read()).done) break;
  })().catch(() => {});
  return {
    firstLine: out.split("\n")[0],
    pid: child.pid,
    stderr: () => err.join(""),
    alive: () => !exited,
    async waitForStderr(text: string, timeoutMs = 15_000) {
      const end = Date.now() + timeoutMs;
      while (!err.join("").includes(text)) {
        if (Date.now() > end || exited) {
          throw new Error(`no ${JSON.stringify(text)} on stderr:\n${err.join("").slice(-4000)}`);
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async [Symbol.asyncDispose]() {
      try {
        child.kill("SIGTERM");
      } catch {
        // gone
      }
      await status;
      await errDone;
      await outDone;
    },
  };
}
