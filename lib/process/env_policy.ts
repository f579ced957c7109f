/**
 * Builds a child's environment (spec §3.1.1): nothing is inherited unless an `envPolicy` asks for
 * it; then `env` overrides; Codex control variables never pass through.
 * @module
 */

import type { ExecEnvPolicy } from "../protocol/process.ts";

export type { ExecEnvPolicy };

const CORE_VARS = ["HOME", "LOGNAME", "PATH", "SHELL", "USER", "USERNAME", "TMPDIR", "TEMP", "TMP"];
const DEFAULT_EXCLUDES = ["*KEY*", "*SECRET*", "*TOKEN*"];
/** Variables that steer this server or a Codex client; a child must not see them. */
const NON_INHERITABLE = [
  "CODEX_EXEC_SERVER_URL",
  "CODEX_EXEC_SERVER_REMOTE_BEARER_TOKEN",
  "CODEX_EXEC_SERVER_EXIT_ON_STDIN_CLOSE",
];

function globToRegExp(pattern: string): RegExp {
  const body = pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replaceAll("*", ".*")
    .replaceAll("?", ".");
  return new RegExp(`^${body}$`, "i");
}

function matchesAny(name: string, patterns: RegExp[]): boolean {
  return patterns.some((p) => p.test(name));
}

/**
 * Computes the complete child environment.
 *
 * @example
 * ```ts
 * buildChildEnv({ env: { FOO: "1" }, policy: null, serverEnv: Deno.env.toObject() }); // { FOO: "1" }
 * ```
 */
export function buildChildEnv(options: {
  env: Record<string, string>;
  policy: ExecEnvPolicy | null | undefined;
  serverEnv: Record<string, string>;
}): Record<string, string> {
  const result: Record<string, string> = {};
  const { policy } = options;
  if (policy) {
    const core = new Set(CORE_VARS);
    for (const [name, value] of Object.entries(options.serverEnv)) {
      if (policy.inherit === "all" || (policy.inherit === "core" && core.has(name))) {
        result[name] = value;
      }
    }
    const excludes = [
      ...(policy.ignoreDefaultExcludes ? [] : DEFAULT_EXCLUDES),
      ...policy.exclude,
    ].map(globToRegExp);
    for (const name of Object.keys(result)) {
      if (matchesAny(name, excludes)) delete result[name];
    }
    Object.assign(result, policy.set);
    if (policy.includeOnly.length > 0) {
      const only = policy.includeOnly.map(globToRegExp);
      for (const name of Object.keys(result)) {
        if (!matchesAny(name, only)) delete result[name];
      }
    }
  }
  Object.assign(result, options.env);
  for (const name of NON_INHERITABLE) delete result[name];
  return result;
}
