/**
 * `--max-connections N` of `serve` and `rendezvous`: the listener's connection cap, which by
 * default follows the open-file limit (see `HTTP_LIMITS.maxConnections`).
 * @module
 */
import { openFileLimit } from "../util/fd_limit.ts";
import { log } from "../util/log.ts";
import { parseIntegerFlag } from "./_args.ts";

/**
 * The flag's help lines, its text starting at `column` (the commands align differently).
 *
 * @example
 * ```ts
 * maxConnectionsUsage(28).startsWith("  --max-connections N"); // true
 * ```
 */
export function maxConnectionsUsage(column: number): string {
  const pad = (text: string) => text.padEnd(column);
  return `${pad("  --max-connections N")}open connections at most (default: half the open-file\n` +
    `${pad("")}limit after 256 reserved, 64..65536); more are answered 503`;
}

/**
 * The cap to pass to the listener, or `undefined` for the default. A cap the open-file limit
 * cannot hold is accepted with a warning: connections past the limit then fail at accept (the
 * listener survives that, but the 503 is lost).
 *
 * @example
 * ```ts
 * maxConnectionsFlag("2000"); // 2000
 * maxConnectionsFlag(undefined); // undefined
 * ```
 */
export function maxConnectionsFlag(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const cap = parseIntegerFlag("--max-connections", value, { min: 1 });
  const limit = openFileLimit();
  if (limit !== undefined && cap > limit - 64) {
    log.warn(
      `--max-connections ${cap} is more than the open-file limit (${limit}) leaves room for; ` +
        `raise it with ulimit -n`,
    );
  }
  return cap;
}
