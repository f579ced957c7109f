/**
 * A bearer token that cannot leak by accident: every way of turning it into text (string
 * conversion, JSON, `Deno.inspect`, `console.log`) prints `[redacted]`.
 * @module
 */
import { RegistryError } from "./errors.ts";

/**
 * The environment variable `remote` reads its registry token from.
 * @example
 * ```ts
 * import { REMOTE_TOKEN_ENV } from "./bearer_token.ts";
 * Deno.env.get(REMOTE_TOKEN_ENV);
 * ```
 */
export const REMOTE_TOKEN_ENV = "CODEX_EXEC_SERVER_REMOTE_BEARER_TOKEN";

const REDACTED = "[redacted]";

/**
 * Holds a secret token. Only {@linkcode BearerToken.authorization} and
 * {@linkcode BearerToken.reveal} give the value out; use them only to build a request.
 *
 * @example
 * ```ts
 * import { BearerToken } from "./bearer_token.ts";
 * const token = new BearerToken("s3cret");
 * String(token); // "[redacted]"
 * new Headers({ authorization: token.authorization() });
 * ```
 */
export class BearerToken {
  #value: string;

  /**
   * @param value the secret (already trimmed, non-empty)
   */
  constructor(value: string) {
    this.#value = value;
  }

  /** The `Authorization` header value, `Bearer <token>`. */
  authorization(): string {
    return `Bearer ${this.#value}`;
  }

  /** The raw secret; for comparisons and redaction only. */
  reveal(): string {
    return this.#value;
  }

  /** Replaces every occurrence of the secret in `text` (e.g. a registry error body). */
  redact(text: string): string {
    return this.#value === "" ? text : text.split(this.#value).join(REDACTED);
  }

  /** Always `[redacted]`. */
  toString(): string {
    return REDACTED;
  }

  /** Always `"[redacted]"`. */
  toJSON(): string {
    return REDACTED;
  }

  /** What `Deno.inspect` and `console.log` show. */
  [Symbol.for("Deno.customInspect")](): string {
    return `BearerToken(${REDACTED})`;
  }

  /** What Node's `util.inspect` shows. */
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return `BearerToken(${REDACTED})`;
  }
}

/**
 * Wraps a token given as a plain string (trimmed) so that it stays out of errors and logs; a
 * {@linkcode BearerToken} is returned as is.
 *
 * @example
 * ```ts
 * import { asBearerToken } from "./bearer_token.ts";
 * asBearerToken(" s3cret\n").authorization(); // "Bearer s3cret"
 * ```
 */
export function asBearerToken(token: string | BearerToken): BearerToken {
  return typeof token === "string" ? new BearerToken(token.trim()) : token;
}

/**
 * Reads and trims the token from an environment variable (default
 * {@linkcode REMOTE_TOKEN_ENV}), every time it is called, so a rotated value is picked up.
 *
 * @throws {RegistryError} code `missing_token` when the variable is unset or blank.
 * @example
 * ```ts
 * import { tokenFromEnv } from "./bearer_token.ts";
 * Deno.env.set("CODEX_EXEC_SERVER_REMOTE_BEARER_TOKEN", " abc \n");
 * tokenFromEnv().reveal(); // "abc"
 * ```
 */
export function tokenFromEnv(name: string = REMOTE_TOKEN_ENV): BearerToken {
  const value = Deno.env.get(name)?.trim() ?? "";
  if (value === "") {
    throw new RegistryError(
      "missing_token",
      `${name} is ${
        Deno.env.get(name) === undefined ? "not set" : "empty"
      }: set it to the registry's bearer token (e.g. export ${name}=...)`,
    );
  }
  return new BearerToken(value);
}
