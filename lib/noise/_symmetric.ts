/**
 * Noise CipherState and SymmetricState (Noise spec §5.1–5.2) for AES-256-GCM + SHA-256:
 * `libcrypto` through FFI for AES-GCM where it can be had (`_gcm_native.ts`), else WebCrypto;
 * `node:crypto` for the synchronous SHA-256/HMAC of the key schedule.
 * @module
 */
import { createHash, createHmac } from "node:crypto";
import { NoiseError } from "./errors.ts";
import { type GcmKey, nativeGcm } from "./_gcm_native.ts";

/** AES-GCM tag length. */
export const TAG_BYTES = 16;
const HASH_BYTES = 32;
/** Records per direction before the stream must end (upstream refuses more than 2^32-1). */
const MAX_NONCE = 2 ** 32 - 1;

function sha256(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const hash = createHash("sha256");
  for (const part of parts) hash.update(part);
  return new Uint8Array(hash.digest());
}

function hmac(key: Uint8Array, ...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const mac = createHmac("sha256", key);
  for (const part of parts) mac.update(part);
  return new Uint8Array(mac.digest());
}

/** Noise HKDF with 2 or 3 outputs. */
function hkdf(chainingKey: Uint8Array, ikm: Uint8Array, outputs: 2 | 3): Uint8Array<ArrayBuffer>[] {
  const temp = hmac(chainingKey, ikm);
  const first = hmac(temp, Uint8Array.of(1));
  const second = hmac(temp, first, Uint8Array.of(2));
  if (outputs === 2) return [first, second];
  return [first, second, hmac(temp, second, Uint8Array.of(3))];
}

/** 4 zero bytes ‖ u64 big-endian counter (the big-endian form is what upstream uses). */
function nonceBytes(n: number): Uint8Array<ArrayBuffer> {
  const nonce = new Uint8Array(12);
  new DataView(nonce.buffer).setBigUint64(4, BigInt(n), false);
  return nonce;
}

/** One direction's key and nonce counter. */
export class CipherState {
  /** The key on `libcrypto` where it can be had (8x WebCrypto's throughput, measured). */
  #native: GcmKey | null = null;
  /** The key in WebCrypto, only where `libcrypto` cannot be had. */
  #key: CryptoKey | undefined;
  #n = 0;

  /** Whether a key has been set (before that, encryption is the identity). */
  get hasKey(): boolean {
    return this.#native !== null || this.#key !== undefined;
  }

  /** The next nonce (records sent or received so far, after the handshake). */
  get nonce(): number {
    return this.#n;
  }

  /** Sets a fresh key and resets the nonce. */
  async initializeKey(key: Uint8Array): Promise<void> {
    const raw = new Uint8Array(key.subarray(0, 32));
    this.#native = nativeGcm(raw);
    this.#key = this.#native ? undefined : await crypto.subtle.importKey(
      "raw",
      raw,
      { name: "AES-GCM" },
      false,
      ["encrypt", "decrypt"],
    );
    raw.fill(0);
    this.#n = 0;
  }

  #nextNonce(): Uint8Array<ArrayBuffer> {
    if (this.#n >= MAX_NONCE) {
      throw new NoiseError("exhausted", "Noise nonce space of this direction is used up");
    }
    return nonceBytes(this.#n++);
  }

  /** AES-256-GCM with the next nonce; the identity while no key is set. */
  async encryptWithAd(ad: Uint8Array, plaintext: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
    if (!this.hasKey) return new Uint8Array(plaintext);
    const iv = this.#nextNonce();
    if (this.#native) return this.#native.seal(iv, ad, plaintext);
    return new Uint8Array(
      await crypto.subtle.encrypt(
        { name: "AES-GCM", iv, additionalData: new Uint8Array(ad) },
        this.#key!,
        new Uint8Array(plaintext),
      ),
    );
  }

  /**
   * Decrypts with the next nonce (the identity while no key is set). The nonce is taken when
   * the call starts, so calls made in record order decrypt in that order even though each is
   * asynchronous; a failure is fatal for the session (nothing retries a nonce).
   */
  async decryptWithAd(ad: Uint8Array, ciphertext: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
    if (!this.hasKey) return new Uint8Array(ciphertext);
    if (ciphertext.length < TAG_BYTES) {
      throw new NoiseError("decrypt_failed", `ciphertext of ${ciphertext.length} bytes has no tag`);
    }
    const n = this.#n;
    const iv = this.#nextNonce();
    if (this.#native) {
      const plaintext = this.#native.open(iv, ad, ciphertext);
      if (plaintext === null) {
        throw new NoiseError("decrypt_failed", `Noise record ${n} failed authentication`);
      }
      return plaintext;
    }
    try {
      return new Uint8Array(
        await crypto.subtle.decrypt(
          { name: "AES-GCM", iv, additionalData: new Uint8Array(ad) },
          this.#key!,
          new Uint8Array(ciphertext),
        ),
      );
    } catch {
      throw new NoiseError("decrypt_failed", `Noise record ${n} failed authentication`);
    }
  }
}

/** The handshake's chaining key, transcript hash and current cipher. */
export class SymmetricState {
  #ck: Uint8Array<ArrayBuffer>;
  #h: Uint8Array<ArrayBuffer>;
  readonly cipher = new CipherState();

  /** InitializeSymmetric(protocol_name). */
  constructor(protocolName: string) {
    const name = new TextEncoder().encode(protocolName);
    if (name.length <= HASH_BYTES) {
      this.#h = new Uint8Array(HASH_BYTES);
      this.#h.set(name);
    } else {
      this.#h = sha256(name);
    }
    this.#ck = new Uint8Array(this.#h);
  }

  /** The transcript hash so far. */
  get handshakeHash(): Uint8Array {
    return new Uint8Array(this.#h);
  }

  mixHash(data: Uint8Array): void {
    this.#h = sha256(this.#h, data);
  }

  async mixKey(ikm: Uint8Array): Promise<void> {
    const [ck, key] = hkdf(this.#ck, ikm, 2);
    this.#ck = ck;
    await this.cipher.initializeKey(key);
  }

  async mixKeyAndHash(ikm: Uint8Array): Promise<void> {
    const [ck, hash, key] = hkdf(this.#ck, ikm, 3);
    this.#ck = ck;
    this.mixHash(hash);
    await this.cipher.initializeKey(key);
  }

  async encryptAndHash(plaintext: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
    const ciphertext = await this.cipher.encryptWithAd(this.#h, plaintext);
    this.mixHash(ciphertext);
    return ciphertext;
  }

  async decryptAndHash(ciphertext: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
    const plaintext = await this.cipher.decryptWithAd(this.#h, ciphertext);
    this.mixHash(ciphertext);
    return plaintext;
  }

  /** Split(): the initiator's send cipher first. */
  async split(): Promise<[CipherState, CipherState]> {
    const [k1, k2] = hkdf(this.#ck, new Uint8Array(0), 2);
    const first = new CipherState();
    const second = new CipherState();
    await Promise.all([first.initializeKey(k1), second.initializeKey(k2)]);
    return [first, second];
  }
}
