/**
 * The one decision every sandboxed request goes through: enforce the plan with the host's
 * bubblewrap, or, where none works, refuse, unless the operator started the server with
 * `--sandbox-unavailable=run-unconfined` (for servers that already run inside a container).
 * Nothing falls back silently.
 * @module
 */
import { invalidRequest } from "../jsonrpc/errors.ts";
import type { ConfinementPlan } from "./plan.ts";
import { type SandboxRuntime, sandboxRuntime } from "./runtime.ts";

/** What to do with a sandboxed request when this host cannot confine it. */
export type UnavailablePolicy = "refuse" | "run-unconfined";

/** The values `--sandbox-unavailable` accepts. */
export const UNAVAILABLE_POLICIES: readonly UnavailablePolicy[] = ["refuse", "run-unconfined"];

let policy: UnavailablePolicy = "refuse";

/**
 * Sets the server-wide policy (from `serve`/`remote --sandbox-unavailable`).
 *
 * @example
 * ```ts
 * setUnavailablePolicy("run-unconfined");
 * ```
 */
export function setUnavailablePolicy(value: UnavailablePolicy): void {
  policy = value;
}

/** How to run one request. */
export type Enforcement =
  /** Run as is: nothing to confine, or the operator opted out on a host without sandboxing. */
  | { confined: false }
  /** Run through bwrap with this runtime. */
  | { confined: true; runtime: SandboxRuntime };

/**
 * Decides how `plan` runs. Throws -32600 (with what to install) when it must be confined, the
 * host cannot do it, and the operator did not opt out.
 *
 * @example
 * ```ts
 * import type { ConfinementPlan } from "./plan.ts";
 * declare const plan: ConfinementPlan;
 * const how = await enforcement(plan);
 * if (how.confined) console.log("bwrap at", how.runtime.bwrap);
 * ```
 */
export async function enforcement(plan: ConfinementPlan): Promise<Enforcement> {
  if (plan.kind === "none") return { confined: false };
  const runtime = await sandboxRuntime();
  if (!("reason" in runtime)) return { confined: true, runtime };
  if (policy === "run-unconfined") return { confined: false };
  throw invalidRequest(`this request asks for a sandbox, but ${runtime.reason}`);
}
