/**
 * `--sandbox-unavailable refuse|run-unconfined`, shared by `serve` and `remote`.
 * @module
 */
import {
  setUnavailablePolicy,
  UNAVAILABLE_POLICIES,
  type UnavailablePolicy,
} from "../sandbox/enforcement.ts";
import { UsageError } from "./_args.ts";

/** The usage lines of the flag. */
export const SANDBOX_FLAG_USAGE = `  --sandbox-unavailable refuse|run-unconfined
                                  what to do with a request whose sandbox restricts anything
                                  when this host cannot confine it (no bwrap, no user
                                  namespaces, not Linux): refuse it (default), or run it
                                  unconfined (only inside a container you already trust)`;

/** The parseArgs option of the flag. */
export const SANDBOX_FLAG_OPTION = {
  "sandbox-unavailable": { type: "string" as const, default: "refuse" },
};

/**
 * Validates the flag's value and applies it server-wide.
 *
 * @example
 * ```ts
 * applySandboxFlag("refuse");
 * ```
 */
export function applySandboxFlag(value: string): void {
  if (!(UNAVAILABLE_POLICIES as readonly string[]).includes(value)) {
    throw new UsageError(
      `--sandbox-unavailable expects ${UNAVAILABLE_POLICIES.join(" or ")}, got \`${value}\``,
    );
  }
  setUnavailablePolicy(value as UnavailablePolicy);
}
