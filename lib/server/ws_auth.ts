/**
 * Websocket upgrade authentication of `serve`, as upstream's `--ws-auth`: a capability token
 * (`Authorization: Bearer <token>` compared by SHA-256 digest with `--ws-token-file` or
 * `--ws-token-sha256`), or HS256 JWTs signed with `--ws-shared-secret-file`. The 401 texts are
 * upstream's.
 * @module
 */
import { timingSafeEqual } from "node:crypto";
import { compactVerify } from "jose";

/** How upgrades are authenticated. */
export type WebSocketAuthConfig =
  | { mode: "capability-token"; /** SHA-256 of the token (32 bytes). */ tokenSha256: Uint8Array }
  | {
    mode: "signed-bearer-token";
    /** The HS256 key (at least 32 bytes). */
    secret: Uint8Array;
    issuer?: string;
    audience?: string;
    /** Leeway for `exp` and `nbf` (upstream default 30). */
    maxClockSkewSeconds: number;
  };

/** Shortest accepted HS256 secret, in bytes. */
export const MIN_SHARED_SECRET_BYTES = 32;
const I64_MAX = 9_223_372_036_854_775_807;

/**
 * SHA-256 of a UTF-8 string.
 *
 * @example
 * ```ts
 * const config = { mode: "capability-token", tokenSha256: await sha256("s3cret") } as const;
 * ```
 */
export async function sha256(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
}

function bearer(header: string): string | null {
  const match = /^bearer[ \t]+(\S.*)$/i.exec(header.trim());
  return match ? match[1].trim() : null;
}

function isClaimInteger(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && Math.abs(value) <= I64_MAX;
}

async function verifyJwt(
  token: string,
  config: Extract<WebSocketAuthConfig, { mode: "signed-bearer-token" }>,
): Promise<string | null> {
  let payload: Record<string, unknown>;
  try {
    // compactVerify checks the signature and the algorithm only; the claims are checked below
    // in upstream's order (expiry before issuer), with its integer-only `exp`/`nbf`.
    const verified = await compactVerify(token, config.secret, { algorithms: ["HS256"] });
    const parsed = JSON.parse(new TextDecoder().decode(verified.payload));
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      return "invalid websocket jwt";
    }
    payload = parsed;
  } catch {
    return "invalid websocket jwt";
  }
  const { exp, nbf, iss, aud } = payload;
  if (!isClaimInteger(exp) || (nbf !== undefined && !isClaimInteger(nbf))) {
    return "invalid websocket jwt";
  }
  const now = Math.floor(Date.now() / 1000);
  const skew = config.maxClockSkewSeconds;
  if (now > exp + skew) return "expired websocket jwt";
  if (nbf !== undefined && now + skew < nbf) return "websocket jwt is not valid yet";
  if (config.issuer !== undefined && iss !== config.issuer) return "websocket jwt issuer mismatch";
  if (config.audience !== undefined) {
    const audiences = Array.isArray(aud) ? aud : [aud];
    if (!audiences.includes(config.audience)) return "websocket jwt audience mismatch";
  }
  return null;
}

/**
 * Checks an upgrade's `Authorization` header; resolves null when it is accepted, else the body
 * of the 401 answer.
 *
 * @example
 * ```ts
 * const config = { mode: "capability-token", tokenSha256: await sha256("s3cret") } as const;
 * await authenticateUpgrade(config, "Bearer s3cret"); // null
 * await authenticateUpgrade(config, null); // "missing websocket bearer token"
 * ```
 */
export async function authenticateUpgrade(
  config: WebSocketAuthConfig,
  header: string | null,
): Promise<string | null> {
  if (header === null) return "missing websocket bearer token";
  const token = bearer(header);
  if (token === null) return "invalid authorization header";
  if (config.mode === "signed-bearer-token") return await verifyJwt(token, config);
  const given = await sha256(token);
  return timingSafeEqual(given, config.tokenSha256) ? null : "invalid websocket bearer token";
}
