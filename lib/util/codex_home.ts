/**
 * Where the executor's Codex home is, shared by config reading and capability discovery.
 * @module
 */

/**
 * The executor's Codex home: `$CODEX_HOME`, else `~/.codex`.
 *
 * @example
 * ```ts
 * const skills = `${codexHomeDir()}/skills`;
 * ```
 */
export function codexHomeDir(): string {
  const fromEnv = Deno.env.get("CODEX_HOME");
  if (fromEnv) return fromEnv;
  return `${Deno.env.get("HOME") ?? "/root"}/.codex`;
}
