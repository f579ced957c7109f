/**
 * Signed rendezvous URLs: HMAC-SHA256 over role, executor id, registration id and expiry, so
 * only URLs the registry handed out open a websocket, and only until they expire.
 * @module
 */
import { timingSafeEqual } from "node:crypto";

/**
 * Which side of the rendezvous a URL admits.
 * @example
 * ```ts
 * import type { RendezvousRole } from "./url_signer.ts";
 * const role: RendezvousRole = "harness";
 * ```
 */
export type RendezvousRole = "executor" | "harness";

/**
 * The claims of a verified URL.
 * @example
 * ```ts
 * import type { UrlClaims } from "./url_signer.ts";
 * const claims: UrlClaims = { role: "executor", executorId: "e1", registrationId: "reg_1", expiresAt: 0 };
 * ```
 */
export interface UrlClaims {
  role: RendezvousRole;
  executorId: string;
  registrationId: string;
  /** Unix seconds. */
  expiresAt: number;
  /**
   * Cluster node the URL is for (`--cluster`): only that node accepts it. Absent on a single
   * node, where the signed text (and so every URL) is what it was before clusters existed.
   */
  node?: string;
}

/**
 * Path prefix of rendezvous websockets; the executor id follows.
 * @example
 * ```ts
 * import { RENDEZVOUS_PATH } from "./url_signer.ts";
 * `ws://127.0.0.1:9000${RENDEZVOUS_PATH}laptop?role=harness`;
 * ```
 */
export const RENDEZVOUS_PATH = "/cloud/rendezvous/";

const encoder = new TextEncoder();

function base64url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_")
    .replace(/=+$/, "");
}

/**
 * Signs and verifies rendezvous URLs with a per-process random key (a restarted rendezvous
 * refuses old URLs with 401, which makes executors re-register).
 *
 * @example
 * ```ts
 * import { UrlSigner } from "./url_signer.ts";
 * const signer = await UrlSigner.create();
 * const url = await signer.sign("ws://127.0.0.1:9000", {
 *   role: "harness", executorId: "e1", registrationId: "reg_1", expiresAt: Date.now() / 1000 + 60,
 * });
 * await signer.verify(new URL(url)); // the claims, or a reason string
 * ```
 */
export class UrlSigner {
  #key: CryptoKey;

  private constructor(key: CryptoKey) {
    this.#key = key;
  }

  /** Creates a signer with a fresh random key, or the given secret bytes. */
  static async create(secret?: Uint8Array): Promise<UrlSigner> {
    const raw = secret ?? crypto.getRandomValues(new Uint8Array(32));
    const key = await crypto.subtle.importKey(
      "raw",
      raw as Uint8Array<ArrayBuffer>,
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign"],
    );
    return new UrlSigner(key);
  }

  async #mac(claims: UrlClaims): Promise<Uint8Array> {
    const fields = [claims.role, claims.executorId, claims.registrationId, claims.expiresAt];
    if (claims.node !== undefined) fields.push(`node=${claims.node}`);
    const text = fields.join("\n");
    return new Uint8Array(await crypto.subtle.sign("HMAC", this.#key, encoder.encode(text)));
  }

  /** Returns `<wsBase>/cloud/rendezvous/<id>?role=…&reg=…&exp=…[&node=…]&sig=…`. */
  async sign(wsBase: string, claims: UrlClaims): Promise<string> {
    const expiresAt = Math.floor(claims.expiresAt);
    const sig = base64url(await this.#mac({ ...claims, expiresAt }));
    const query = new URLSearchParams({
      role: claims.role,
      reg: claims.registrationId,
      exp: String(expiresAt),
      ...(claims.node !== undefined ? { node: claims.node } : {}),
      sig,
    });
    return `${wsBase}${RENDEZVOUS_PATH}${claims.executorId}?${query}`;
  }

  /** Verifies a request URL; returns its claims or why it is refused. */
  async verify(url: URL, nowSeconds = Date.now() / 1000): Promise<UrlClaims | string> {
    if (!url.pathname.startsWith(RENDEZVOUS_PATH)) return "not a rendezvous URL";
    const executorId = decodeURIComponent(url.pathname.slice(RENDEZVOUS_PATH.length));
    const role = url.searchParams.get("role");
    const registrationId = url.searchParams.get("reg") ?? "";
    const exp = Number(url.searchParams.get("exp"));
    const sig = url.searchParams.get("sig") ?? "";
    if (role !== "executor" && role !== "harness") return "role must be executor or harness";
    if (!Number.isInteger(exp)) return "missing expiry";
    const node = url.searchParams.get("node") ?? undefined;
    const claims: UrlClaims = { role, executorId, registrationId, expiresAt: exp, node };
    if (node === undefined) delete claims.node;
    const expected = encoder.encode(base64url(await this.#mac(claims)));
    const given = encoder.encode(sig);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return "bad signature (the URL was not issued by this rendezvous, or it restarted)";
    }
    if (exp < nowSeconds) return "URL expired; ask the registry for a new one";
    return claims;
  }
}
