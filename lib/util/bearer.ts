/**
 * Checking an `Authorization: Bearer <token>` header against the configured token, in constant
 * time, for every listener that takes a token (`serve --ws-token-file`, the rendezvous).
 * @module
 */
import { timingSafeEqual } from "node:crypto";

/**
 * What a request's `Authorization` header says about the token: `ok`, `missing` (no header) or
 * `invalid` (not a bearer header, or another token).
 *
 * @example
 * ```ts
 * import type { BearerCheck } from "./bearer.ts";
 * const check: BearerCheck = "missing";
 * ```
 */
export type BearerCheck = "ok" | "missing" | "invalid";

/**
 * Compares the header's bearer token with `expected` without leaking, through timing, how
 * much of it matched.
 *
 * @example
 * ```ts
 * import { checkBearer } from "./bearer.ts";
 * checkBearer("s3cret", "Bearer s3cret"); // "ok"
 * checkBearer("s3cret", null); // "missing"
 * ```
 */
export function checkBearer(expected: string, header: string | null): BearerCheck {
  if (header === null) return "missing";
  const match = /^Bearer\s+(.+)$/i.exec(header.trim());
  if (!match) return "invalid";
  const given = new TextEncoder().encode(match[1].trim());
  const wanted = new TextEncoder().encode(expected);
  return given.length === wanted.length && timingSafeEqual(given, wanted) ? "ok" : "invalid";
}
