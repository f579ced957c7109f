/**
 * Hybrid static/ephemeral key pairs (X25519 + ML-KEM-768, Deno WebCrypto) and the registry's
 * public key JSON (`{suite, x25519_public_key, mlkem768_public_key}`, standard padded base64).
 * @module
 */
import { Base64Error, decodeBase64, encodeBase64 } from "../util/base64.ts";
import { NoiseError } from "./errors.ts";

/**
 * The suite tag in key JSON (it says `X25519`; the hashed protocol name says `25519`).
 * @example
 * ```ts
 * import { NOISE_SUITE } from "./keys.ts";
 * NOISE_SUITE; // "Noise_hybridIK_X25519+MLKEM768_AESGCM_SHA256"
 * ```
 */
export const NOISE_SUITE = "Noise_hybridIK_X25519+MLKEM768_AESGCM_SHA256";

/**
 * The registry's `security_profile` for this suite.
 * @example
 * ```ts
 * import { SECURITY_PROFILE } from "./keys.ts";
 * SECURITY_PROFILE; // "noise_hybrid_ik_v1"
 * ```
 */
export const SECURITY_PROFILE = "noise_hybrid_ik_v1";

/** Byte lengths fixed by X25519 and FIPS 203 ML-KEM-768. */
export const X25519_KEY_BYTES = 32;
/** ML-KEM-768 encapsulation key length. */
export const MLKEM_PUBLIC_BYTES = 1184;
/** ML-KEM-768 ciphertext length. */
export const MLKEM_CIPHERTEXT_BYTES = 1088;
/** ML-KEM-768 private seed (`d ‖ z`) length. */
export const MLKEM_SEED_BYTES = 64;

// deno-lint-ignore no-explicit-any
const subtle = crypto.subtle as any;
const X25519 = { name: "X25519" };
const MLKEM = { name: "ML-KEM-768" };
const PKCS8_X25519_PREFIX = Uint8Array.fromHex("302e020100300506032b656e04220420");

/**
 * The public half of a hybrid key: raw X25519 (32 B) and ML-KEM-768 (1184 B) keys.
 * @example
 * ```ts
 * import type { HybridPublicKey } from "./keys.ts";
 * const key: HybridPublicKey = { x25519: new Uint8Array(32), mlkem768: new Uint8Array(1184) };
 * ```
 */
export interface HybridPublicKey {
  /** Raw X25519 public key, 32 bytes. */
  readonly x25519: Uint8Array<ArrayBuffer>;
  /** Raw ML-KEM-768 encapsulation key, 1184 bytes. */
  readonly mlkem768: Uint8Array<ArrayBuffer>;
}

/**
 * A hybrid key pair; the private halves are WebCrypto keys.
 * @example
 * ```ts
 * import { generateHybridKeyPair, type HybridKeyPair } from "./keys.ts";
 * const pair: HybridKeyPair = await generateHybridKeyPair();
 * pair.public.x25519.length; // 32
 * ```
 */
export interface HybridKeyPair {
  /** The public half, as registered or sent in a bundle. */
  readonly public: HybridPublicKey;
  /** X25519 private key (derive only). */
  readonly x25519Private: CryptoKey;
  /** ML-KEM-768 decapsulation key. */
  readonly mlkemPrivate: CryptoKey;
}

/**
 * The secret bytes of a key pair (tests and golden transcripts only): the raw X25519 scalar
 * and the 64-byte ML-KEM seed.
 * @example
 * ```ts
 * import type { HybridSecret } from "./keys.ts";
 * const secret: HybridSecret = { x25519: new Uint8Array(32), mlkemSeed: new Uint8Array(64) };
 * ```
 */
export interface HybridSecret {
  /** Raw X25519 private scalar, 32 bytes. */
  readonly x25519: Uint8Array;
  /** ML-KEM-768 seed `d ‖ z`, 64 bytes. */
  readonly mlkemSeed: Uint8Array;
}

/**
 * The registry's JSON form of a public key.
 * @example
 * ```ts
 * import type { PublicKeyJson } from "./keys.ts";
 * const json: PublicKeyJson = { suite: "Noise_hybridIK_X25519+MLKEM768_AESGCM_SHA256", x25519_public_key: "…", mlkem768_public_key: "…" };
 * ```
 */
export interface PublicKeyJson {
  /** Always {@linkcode NOISE_SUITE}. */
  suite: string;
  /** Standard padded base64 of the 32-byte X25519 key. */
  x25519_public_key: string;
  /** Standard padded base64 of the 1184-byte ML-KEM key. */
  mlkem768_public_key: string;
}

/**
 * Options of {@linkcode generateHybridKeyPair}.
 * @example
 * ```ts
 * import type { GenerateKeyOptions } from "./keys.ts";
 * const options: GenerateKeyOptions = { extractable: true };
 * ```
 */
export interface GenerateKeyOptions {
  /** Allow {@linkcode exportHybridSecret} (tests only). Default false. */
  extractable?: boolean;
}

/**
 * Generates a fresh hybrid key pair.
 *
 * @example
 * ```ts
 * import { generateHybridKeyPair } from "./keys.ts";
 * const pair = await generateHybridKeyPair();
 * pair.public.mlkem768.length; // 1184
 * ```
 */
export async function generateHybridKeyPair(
  options: GenerateKeyOptions = {},
): Promise<HybridKeyPair> {
  const extractable = options.extractable ?? false;
  const [x, k] = await Promise.all([
    subtle.generateKey(X25519, extractable, ["deriveBits"]) as Promise<CryptoKeyPair>,
    subtle.generateKey(MLKEM, extractable, ["encapsulateBits", "decapsulateBits"]) as Promise<
      CryptoKeyPair
    >,
  ]);
  // Public keys are always extractable in WebCrypto.
  const [xRaw, kRaw] = await Promise.all([
    subtle.exportKey("raw", x.publicKey),
    subtle.exportKey("raw-public", k.publicKey),
  ]);
  return {
    public: { x25519: new Uint8Array(xRaw), mlkem768: new Uint8Array(kRaw) },
    x25519Private: x.privateKey,
    mlkemPrivate: k.privateKey,
  };
}

/**
 * Rebuilds a key pair from its secret bytes (deterministic: golden transcripts replay with it).
 *
 * @throws {NoiseError} code `invalid_key` for wrong lengths.
 * @example
 * ```ts
 * import { importHybridKeyPair } from "./keys.ts";
 * const pair = await importHybridKeyPair({ x25519: new Uint8Array(32).fill(7), mlkemSeed: new Uint8Array(64).fill(9) });
 * ```
 */
export async function importHybridKeyPair(secret: HybridSecret): Promise<HybridKeyPair> {
  if (secret.x25519.length !== X25519_KEY_BYTES || secret.mlkemSeed.length !== MLKEM_SEED_BYTES) {
    throw new NoiseError("invalid_key", "a hybrid secret is 32 X25519 bytes and a 64-byte seed");
  }
  const pkcs8 = new Uint8Array(PKCS8_X25519_PREFIX.length + X25519_KEY_BYTES);
  pkcs8.set(PKCS8_X25519_PREFIX);
  pkcs8.set(secret.x25519, PKCS8_X25519_PREFIX.length);
  const x25519Private: CryptoKey = await subtle.importKey("pkcs8", pkcs8, X25519, true, [
    "deriveBits",
  ]);
  const mlkemPrivate: CryptoKey = await subtle.importKey(
    "raw-seed",
    new Uint8Array(secret.mlkemSeed),
    MLKEM,
    true,
    ["decapsulateBits"],
  );
  const [xPub, kPub] = await Promise.all([
    subtle.getPublicKey(x25519Private, []),
    subtle.getPublicKey(mlkemPrivate, ["encapsulateBits"]),
  ]);
  const [xRaw, kRaw] = await Promise.all([
    subtle.exportKey("raw", xPub),
    subtle.exportKey("raw-public", kPub),
  ]);
  return {
    public: { x25519: new Uint8Array(xRaw), mlkem768: new Uint8Array(kRaw) },
    x25519Private,
    mlkemPrivate,
  };
}

/**
 * Exports the secret bytes of an extractable pair (tests and golden transcripts only).
 *
 * @example
 * ```ts
 * import { exportHybridSecret, generateHybridKeyPair } from "./keys.ts";
 * const secret = await exportHybridSecret(await generateHybridKeyPair({ extractable: true }));
 * secret.mlkemSeed.length; // 64
 * ```
 */
export async function exportHybridSecret(pair: HybridKeyPair): Promise<HybridSecret> {
  const [pkcs8, seed] = await Promise.all([
    subtle.exportKey("pkcs8", pair.x25519Private),
    subtle.exportKey("raw-seed", pair.mlkemPrivate),
  ]);
  return {
    x25519: new Uint8Array(pkcs8).slice(PKCS8_X25519_PREFIX.length),
    mlkemSeed: new Uint8Array(seed),
  };
}

/**
 * The registry JSON of a public key (member order as upstream sends it).
 *
 * @example
 * ```ts
 * import { generateHybridKeyPair, publicKeyToJson } from "./keys.ts";
 * const json = publicKeyToJson((await generateHybridKeyPair()).public);
 * json.x25519_public_key.length; // 44
 * ```
 */
export function publicKeyToJson(key: HybridPublicKey): PublicKeyJson {
  return {
    suite: NOISE_SUITE,
    x25519_public_key: encodeBase64(key.x25519),
    mlkem768_public_key: encodeBase64(key.mlkem768),
  };
}

/**
 * Parses a registry public key JSON strictly: exactly the three members, the suite tag,
 * padded standard base64 of 32 and 1184 bytes.
 *
 * @throws {NoiseError} code `invalid_key`, naming the first problem.
 * @example
 * ```ts
 * import { generateHybridKeyPair, publicKeyFromJson, publicKeyToJson } from "./keys.ts";
 * const key = publicKeyFromJson(publicKeyToJson((await generateHybridKeyPair()).public));
 * ```
 */
export function publicKeyFromJson(value: unknown): HybridPublicKey {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new NoiseError("invalid_key", "a public key must be a JSON object");
  }
  const record = value as Record<string, unknown>;
  for (const name of Object.keys(record)) {
    if (name !== "suite" && name !== "x25519_public_key" && name !== "mlkem768_public_key") {
      throw new NoiseError("invalid_key", `unknown public key member \`${name.slice(0, 64)}\``);
    }
  }
  if (record.suite !== NOISE_SUITE) {
    throw new NoiseError("invalid_key", `public key suite must be ${NOISE_SUITE}`);
  }
  return {
    x25519: keyBytes(record.x25519_public_key, "x25519_public_key", X25519_KEY_BYTES),
    mlkem768: keyBytes(record.mlkem768_public_key, "mlkem768_public_key", MLKEM_PUBLIC_BYTES),
  };
}

function keyBytes(value: unknown, name: string, length: number): Uint8Array<ArrayBuffer> {
  if (typeof value !== "string") {
    throw new NoiseError("invalid_key", `public key member ${name} must be a base64 string`);
  }
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = decodeBase64(value);
  } catch (error) {
    if (!(error instanceof Base64Error)) throw error;
    throw new NoiseError("invalid_key", `public key member ${name}: ${error.message}`);
  }
  if (bytes.length !== length) {
    throw new NoiseError(
      "invalid_key",
      `public key member ${name} is ${bytes.length} bytes; expected ${length}`,
    );
  }
  return bytes;
}

/**
 * Whether two public keys are the same key (constant-time is not needed: keys are public).
 *
 * @example
 * ```ts
 * import { generateHybridKeyPair, sameHybridKey } from "./keys.ts";
 * const pair = await generateHybridKeyPair();
 * sameHybridKey(pair.public, pair.public); // true
 * ```
 */
export function sameHybridKey(a: HybridPublicKey, b: HybridPublicKey): boolean {
  return equalBytes(a.x25519, b.x25519) && equalBytes(a.mlkem768, b.mlkem768);
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
