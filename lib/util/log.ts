/**
 * Logging to stderr only (stdout carries the listen URL or stdio JSON-RPC).
 * `CODEX_EXEC_SERVER_LOG=debug|info|warn|error|off` picks the level (default `info`).
 * @module
 */

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40, off: 100 } as const;
type Level = keyof typeof LEVELS;

function configured(): string | undefined {
  try {
    return Deno.env.get("CODEX_EXEC_SERVER_LOG");
  } catch {
    return undefined; // no env permission: default level
  }
}

let minimum: number = LEVELS[(configured() ?? "info") as Level] ?? LEVELS.info;

/**
 * Changes the level used when `CODEX_EXEC_SERVER_LOG` is not set: the client commands (`exec`,
 * `fs`) own the user's terminal and show no internal log lines unless asked.
 *
 * @example
 * ```ts
 * setDefaultLogLevel("off");
 * ```
 */
export function setDefaultLogLevel(level: Level): void {
  if (configured() === undefined) minimum = LEVELS[level];
}
const encoder = new TextEncoder();

function write(level: Level, message: string): void {
  if (LEVELS[level] < minimum) return;
  const line = `${new Date().toISOString()} ${level.toUpperCase()} ${message}\n`;
  try {
    Deno.stderr.writeSync(encoder.encode(line));
  } catch {
    // stderr gone: nothing sensible left to do with a log line
  }
}

/**
 * The process-wide logger.
 *
 * @example
 * ```ts
 * log.info("listening on ws://127.0.0.1:4000");
 * ```
 */
export const log = {
  debug: (message: string) => write("debug", message),
  info: (message: string) => write("info", message),
  warn: (message: string) => write("warn", message),
  error: (message: string) => write("error", message),
};
