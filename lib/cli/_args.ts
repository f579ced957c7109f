/**
 * Shared CLI plumbing: a usage error type and integer flag parsing.
 * @module
 */

/** A mistake in the command line; printed with a hint and exit code 2. */
export class UsageError extends Error {
  readonly code = "usage";
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/**
 * Parses a non-negative integer flag value.
 *
 * @example
 * ```ts
 * parseIntegerFlag("--concurrent-requests", "4", { min: 1 }); // 4
 * ```
 */
export function parseIntegerFlag(name: string, value: string, bounds: { min: number }): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < bounds.min) {
    throw new UsageError(`${name} expects an integer >= ${bounds.min}, got \`${value}\``);
  }
  return n;
}

/**
 * Reads an optional integer from the environment (used for test-only timing overrides).
 *
 * @example
 * ```ts
 * envInteger("CODEX_EXEC_SERVER_SESSION_TTL_MS"); // undefined unless set
 * ```
 */
export function envInteger(name: string): number | undefined {
  const raw = Deno.env.get(name);
  if (raw === undefined || raw === "") return undefined;
  return parseIntegerFlag(name, raw, { min: 0 });
}
