/**
 * AES-256-GCM through the system's OpenSSL `libcrypto` (FFI), for the Noise transport records.
 * Deno's WebCrypto AES-GCM runs at ~250 MiB/s on an AES-NI machine (60 KiB records, measured),
 * a quarter of an E5 stream's executor time; `libcrypto`'s EVP interface does ~2 GiB/s there and
 * gives the same bytes. Where `libcrypto` or FFI is unavailable, {@link nativeGcm} is null and
 * the caller keeps WebCrypto.
 * @module
 */

import { openOptionalLibrary } from "../util/optional_ffi.ts";

// The Encrypt and Decrypt halves of EVP share their signatures.
/** `(ctx, cipher, engine, key, iv)` */
const INIT = {
  parameters: ["pointer", "pointer", "pointer", "buffer", "buffer"],
  result: "i32",
} as const;
/** `(ctx, out, &outl, in, inl)` */
const UPDATE = {
  parameters: ["pointer", "buffer", "buffer", "buffer", "i32"],
  result: "i32",
} as const;
/** `(ctx, out, &outl)` */
const FINAL = { parameters: ["pointer", "buffer", "buffer"], result: "i32" } as const;

const SYMBOLS = {
  EVP_CIPHER_CTX_new: { parameters: [], result: "pointer" },
  EVP_CIPHER_CTX_free: { parameters: ["pointer"], result: "void" },
  EVP_aes_256_gcm: { parameters: [], result: "pointer" },
  EVP_EncryptInit_ex: INIT,
  EVP_DecryptInit_ex: INIT,
  EVP_EncryptUpdate: UPDATE,
  EVP_DecryptUpdate: UPDATE,
  EVP_EncryptFinal_ex: FINAL,
  EVP_DecryptFinal_ex: FINAL,
  EVP_CIPHER_CTX_ctrl: { parameters: ["pointer", "i32", "i32", "buffer"], result: "i32" },
} as const;

type Symbols = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

const EVP_CTRL_GCM_GET_TAG = 0x10;
const EVP_CTRL_GCM_SET_TAG = 0x11;
const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
/** `EVP_*Update` takes an `int` length. */
const MAX_RECORD_BYTES = 0x7fff_ffff;

let loaded: Symbols | null | undefined;

function load(): Symbols | null {
  if (loaded === undefined) {
    loaded = openOptionalLibrary(["libcrypto.so.3", "libcrypto.so.1.1"], SYMBOLS);
  }
  return loaded;
}

/** Frees a context once its key object is collected (the context holds the expanded key). */
const contexts = new FinalizationRegistry<{ lib: Symbols; ctx: Deno.PointerObject }>(
  ({ lib, ctx }) => lib.EVP_CIPHER_CTX_free(ctx),
);

function check(ok: number, what: string): void {
  if (ok !== 1) throw new Error(`libcrypto ${what} failed`);
}

/** One AES-256-GCM key, for sealing or opening records with explicit 12-byte nonces. */
export interface GcmKey {
  /** `plaintext` sealed: ciphertext followed by the 16-byte tag. */
  seal(nonce: Uint8Array, ad: Uint8Array, plaintext: Uint8Array): Uint8Array<ArrayBuffer>;
  /** The plaintext of `sealed` (ciphertext and tag), or null when it fails authentication. */
  open(nonce: Uint8Array, ad: Uint8Array, sealed: Uint8Array): Uint8Array<ArrayBuffer> | null;
}

class NativeGcmKey implements GcmKey {
  #lib: Symbols;
  #key: Uint8Array;
  #seal: Deno.PointerObject | null = null;
  #open: Deno.PointerObject | null = null;
  #length = new Int32Array(1);

  constructor(lib: Symbols, key: Uint8Array) {
    this.#lib = lib;
    this.#key = key;
  }

  /** A context set up with the key for one direction; the nonce is set per record. */
  #context(encrypt: boolean): Deno.PointerObject {
    const lib = this.#lib;
    const ctx = lib.EVP_CIPHER_CTX_new();
    if (ctx === null) throw new Error("libcrypto EVP_CIPHER_CTX_new failed");
    contexts.register(this, { lib, ctx });
    const init = encrypt ? lib.EVP_EncryptInit_ex : lib.EVP_DecryptInit_ex;
    check(init(ctx, lib.EVP_aes_256_gcm(), null, this.#key, null), "cipher init");
    return ctx;
  }

  seal(nonce: Uint8Array, ad: Uint8Array, plaintext: Uint8Array): Uint8Array<ArrayBuffer> {
    if (nonce.length !== NONCE_BYTES || plaintext.length > MAX_RECORD_BYTES - TAG_BYTES) {
      throw new RangeError("AES-GCM nonce or record size out of range");
    }
    const lib = this.#lib;
    const ctx = this.#seal ??= this.#context(true);
    const length = this.#length;
    const out = new Uint8Array(plaintext.length + TAG_BYTES);
    check(lib.EVP_EncryptInit_ex(ctx, null, null, null, nonce), "nonce");
    if (ad.length > 0) check(lib.EVP_EncryptUpdate(ctx, null, length, ad, ad.length), "ad");
    length[0] = 0;
    if (plaintext.length > 0) {
      check(lib.EVP_EncryptUpdate(ctx, out, length, plaintext, plaintext.length), "encrypt");
    }
    // GCM is a stream mode: everything came out of Update, and Final adds nothing.
    if (length[0] !== plaintext.length) throw new Error("libcrypto encrypt length mismatch");
    check(lib.EVP_EncryptFinal_ex(ctx, out.subarray(plaintext.length), length), "final");
    const tag = out.subarray(plaintext.length);
    check(lib.EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_BYTES, tag), "tag");
    return out;
  }

  open(nonce: Uint8Array, ad: Uint8Array, sealed: Uint8Array): Uint8Array<ArrayBuffer> | null {
    if (
      nonce.length !== NONCE_BYTES || sealed.length < TAG_BYTES ||
      sealed.length > MAX_RECORD_BYTES
    ) {
      throw new RangeError("AES-GCM nonce or record size out of range");
    }
    const lib = this.#lib;
    const ctx = this.#open ??= this.#context(false);
    const length = this.#length;
    const size = sealed.length - TAG_BYTES;
    // One spare byte: Final may be handed a pointer just past the plaintext.
    const out = new Uint8Array(size + 1);
    check(lib.EVP_DecryptInit_ex(ctx, null, null, null, nonce), "nonce");
    if (ad.length > 0) check(lib.EVP_DecryptUpdate(ctx, null, length, ad, ad.length), "ad");
    length[0] = 0;
    if (size > 0) {
      check(lib.EVP_DecryptUpdate(ctx, out, length, sealed.subarray(0, size), size), "decrypt");
    }
    if (length[0] !== size) throw new Error("libcrypto decrypt length mismatch");
    // The tag is copied: OpenSSL keeps the pointer it is given only for the call.
    const tag = sealed.slice(size);
    check(lib.EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_BYTES, tag), "set tag");
    if (lib.EVP_DecryptFinal_ex(ctx, out.subarray(size), length) !== 1) return null;
    return out.subarray(0, size);
  }
}

/**
 * An AES-256-GCM key on `libcrypto`, or null where it cannot be had (not Linux, no FFI
 * permission, no `libcrypto.so.3` or `.1.1`).
 *
 * @example
 * ```ts
 * const key = nativeGcm(new Uint8Array(32));
 * const sealed = key?.seal(new Uint8Array(12), new Uint8Array(0), new TextEncoder().encode("hi"));
 * ```
 */
export function nativeGcm(key: Uint8Array): GcmKey | null {
  if (key.length !== KEY_BYTES) throw new RangeError("AES-256-GCM needs a 32-byte key");
  const lib = load();
  return lib ? new NativeGcmKey(lib, key.slice()) : null;
}
