/**
 * Errors of the registry client and the remote executor: one class, told apart by `code`.
 * @module
 */

/**
 * Stable identifiers of registry and remote-mode failures.
 * @example
 * ```ts
 * import type { RegistryErrorCode } from "./errors.ts";
 * const code: RegistryErrorCode = "auth";
 * ```
 */
export type RegistryErrorCode =
  /** The token environment variable is unset or blank. */
  | "missing_token"
  /** An argument (executor id, URL) is malformed. */
  | "invalid_argument"
  /** The registry answered 401 or 403. */
  | "auth"
  /** The registry answered another non-2xx status. */
  | "http"
  /** No answer: connection refused, reset, DNS, timeout. */
  | "network"
  /** A 2xx answer whose body is not what the contract says. */
  | "invalid_response";

/**
 * A registry or remote-mode failure. Never contains the bearer token.
 *
 * @example
 * ```ts
 * import { RegistryError } from "./errors.ts";
 * const error = new RegistryError("http", "registry request failed (409, executor_offline)", {
 *   status: 409,
 *   registryCode: "executor_offline",
 * });
 * error.retryable; // false
 * ```
 */
export class RegistryError extends Error {
  /** Stable machine-readable reason. */
  readonly code: RegistryErrorCode;
  /** HTTP status, for `auth` and `http` errors. */
  readonly status: number | undefined;
  /** The registry's `error.code`, when its body had one. */
  readonly registryCode: string | undefined;

  /**
   * @param code stable reason
   * @param message what happened and what to do
   * @param details HTTP status and registry error code
   */
  constructor(
    code: RegistryErrorCode,
    message: string,
    details: { status?: number; registryCode?: string; cause?: unknown } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = "RegistryError";
    this.code = code;
    this.status = details.status;
    this.registryCode = details.registryCode;
  }

  /**
   * Whether trying again later may succeed: network errors, 5xx, 408, 429, and 409
   * `executor_id_in_use` (the id's current holder may go away).
   */
  get retryable(): boolean {
    if (this.code === "network") return true;
    if (this.registryCode === "executor_id_in_use") return true;
    if (this.code !== "http" || this.status === undefined) return false;
    return this.status >= 500 || this.status === 408 || this.status === 429;
  }
}
