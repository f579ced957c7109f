/**
 * Runs the real CLI (`deno run main.ts ...`) as a child, for `exec` and `fs` tests.
 * @module
 */
import { ROOT, spawnMain } from "../_harness.ts";

/** What a finished CLI run produced. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  stdoutBytes: Uint8Array;
}

/** Options of {@link runCli}. */
export interface RunCliOptions {
  /** Bytes for stdin (then EOF); default: EOF at once. */
  stdin?: string | Uint8Array;
  env?: Record<string, string>;
  cwd?: string;
  /** Called with each stdout chunk as it arrives. */
  onStdout?: (text: string) => void;
}

async function readAll(stream: ReadableStream<Uint8Array>, onText?: (t: string) => void) {
  const parts: Uint8Array[] = [];
  const decoder = new TextDecoder();
  for await (const chunk of stream) {
    parts.push(chunk);
    onText?.(decoder.decode(chunk, { stream: true }));
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Runs `main.ts ARGS` to completion. Logs are kept quiet so stderr is the command's own. */
export async function runCli(args: string[], options: RunCliOptions = {}): Promise<CliResult> {
  const child = options.cwd
    ? new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${ROOT}main.ts`, ...args],
      cwd: options.cwd,
      env: { CODEX_EXEC_SERVER_LOG: "warn", ...options.env },
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn()
    : spawnMain(args, { CODEX_EXEC_SERVER_LOG: "warn", ...options.env });
  const stdout = readAll(child.stdout, options.onStdout);
  const stderr = readAll(child.stderr);
  const writer = child.stdin.getWriter();
  if (options.stdin !== undefined) {
    await writer.write(
      typeof options.stdin === "string" ? new TextEncoder().encode(options.stdin) : options.stdin,
    );
  }
  await writer.close();
  const [status, out, err] = await Promise.all([child.status, stdout, stderr]);
  const decoder = new TextDecoder();
  return {
    code: status.code,
    stdout: decoder.decode(out),
    stderr: decoder.decode(err),
    stdoutBytes: out,
  };
}
