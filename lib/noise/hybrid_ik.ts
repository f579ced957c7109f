/**
 * The hybrid post-quantum Noise IK handshake codex uses for relay streams
 * (`Noise_hybridIK_25519+MLKEM768_AESGCM_SHA256`, clatter's hybrid pattern):
 *
 * ```
 * <- s                                  (X25519 then ML-KEM static, both mixed into h)
 * -> skem, e, es, s, ss   + payload     3568 + len(payload) bytes
 * <- ekem, skem, e, ee, se              3424 bytes, empty payload
 * ```
 *
 * `e` sends the X25519 and ML-KEM ephemerals in clear (MixHash each); `s` encrypts both
 * statics; `skem` encapsulates to the peer's static ML-KEM key, EncryptAndHash(ct), then
 * MixKeyAndHash(ss); `ekem` encapsulates to the peer's ephemeral ML-KEM key, sends ct in
 * clear, MixHash(ct), MixKey(ss); DH tokens MixKey. The initiator sends with the first key of
 * Split().
 * @module
 */
import { NoiseError } from "./errors.ts";
import {
  generateHybridKeyPair,
  type HybridKeyPair,
  type HybridPublicKey,
  MLKEM_CIPHERTEXT_BYTES,
  MLKEM_PUBLIC_BYTES,
  X25519_KEY_BYTES,
} from "./keys.ts";
import { type CipherState, SymmetricState, TAG_BYTES } from "./_symmetric.ts";

export { CipherState } from "./_symmetric.ts";

/**
 * The Noise protocol name hashed into the initial state (`25519`, not the key JSON's `X25519`).
 * @example
 * ```ts
 * import { NOISE_PROTOCOL_NAME } from "./hybrid_ik.ts";
 * NOISE_PROTOCOL_NAME.length; // 43
 * ```
 */
export const NOISE_PROTOCOL_NAME = "Noise_hybridIK_25519+MLKEM768_AESGCM_SHA256";

/**
 * Size of message 1 without its payload.
 * @example
 * ```ts
 * import { MESSAGE1_OVERHEAD } from "./hybrid_ik.ts";
 * MESSAGE1_OVERHEAD; // 3568
 * ```
 */
export const MESSAGE1_OVERHEAD: number = MLKEM_CIPHERTEXT_BYTES + X25519_KEY_BYTES +
  MLKEM_PUBLIC_BYTES +
  (X25519_KEY_BYTES + TAG_BYTES) + (MLKEM_PUBLIC_BYTES + TAG_BYTES) + TAG_BYTES;

/**
 * Size of message 2 (its payload is always empty).
 * @example
 * ```ts
 * import { MESSAGE2_BYTES } from "./hybrid_ik.ts";
 * MESSAGE2_BYTES; // 3424
 * ```
 */
export const MESSAGE2_BYTES: number = MLKEM_CIPHERTEXT_BYTES +
  (MLKEM_CIPHERTEXT_BYTES + TAG_BYTES) +
  X25519_KEY_BYTES + MLKEM_PUBLIC_BYTES + TAG_BYTES;

/** Largest handshake message (Noise's 65 535-byte message limit). */
export const MAX_HANDSHAKE_MESSAGE_BYTES = 65_535;

/**
 * The randomness of a handshake: ephemeral key pairs and KEM encapsulations. The default is
 * WebCrypto; golden-transcript tests inject recorded values to replay a handshake byte for byte.
 * @example
 * ```ts
 * import { type HandshakeEntropy, webCryptoEntropy } from "./hybrid_ik.ts";
 * const entropy: HandshakeEntropy = webCryptoEntropy;
 * ```
 */
export interface HandshakeEntropy {
  /** A fresh ephemeral key pair. */
  ephemeral(): Promise<HybridKeyPair>;
  /** Encapsulates to an ML-KEM-768 public key. */
  encapsulate(publicKey: Uint8Array): Promise<Encapsulation>;
}

/**
 * One ML-KEM encapsulation.
 * @example
 * ```ts
 * import type { Encapsulation } from "./hybrid_ik.ts";
 * const e: Encapsulation = { ciphertext: new Uint8Array(1088), sharedSecret: new Uint8Array(32) };
 * ```
 */
export interface Encapsulation {
  /** The ML-KEM ciphertext to send (1088 bytes). */
  ciphertext: Uint8Array;
  /** The 32-byte shared secret it encapsulates. */
  sharedSecret: Uint8Array;
}

// deno-lint-ignore no-explicit-any
const subtle = crypto.subtle as any;

/**
 * Randomness from WebCrypto (production).
 * @example
 * ```ts
 * import { webCryptoEntropy } from "./hybrid_ik.ts";
 * const pair = await webCryptoEntropy.ephemeral();
 * ```
 */
export const webCryptoEntropy: HandshakeEntropy = {
  ephemeral: () => generateHybridKeyPair(),
  async encapsulate(publicKey: Uint8Array): Promise<Encapsulation> {
    const key = await importMlkemPublic(publicKey);
    const result = await subtle.encapsulateBits({ name: "ML-KEM-768" }, key);
    return {
      ciphertext: new Uint8Array(result.ciphertext),
      sharedSecret: new Uint8Array(result.sharedKey),
    };
  },
};

async function importMlkemPublic(bytes: Uint8Array): Promise<CryptoKey> {
  try {
    return await subtle.importKey(
      "raw-public",
      new Uint8Array(bytes),
      { name: "ML-KEM-768" },
      true,
      [
        "encapsulateBits",
      ],
    );
  } catch {
    throw new NoiseError("invalid_key", "not a valid ML-KEM-768 public key");
  }
}

async function decapsulate(privateKey: CryptoKey, ciphertext: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(
    await subtle.decapsulateBits({ name: "ML-KEM-768" }, privateKey, new Uint8Array(ciphertext)),
  );
}

async function dh(privateKey: CryptoKey, publicKey: Uint8Array): Promise<Uint8Array> {
  try {
    const peer = await subtle.importKey(
      "raw",
      new Uint8Array(publicKey),
      { name: "X25519" },
      true,
      [],
    );
    return new Uint8Array(
      await subtle.deriveBits({ name: "X25519", public: peer }, privateKey, 256),
    );
  } catch {
    // WebCrypto refuses low-order points (an all-zero shared secret).
    throw new NoiseError(
      "invalid_handshake",
      "X25519 with the peer's key failed (low-order point)",
    );
  }
}

function concat(parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Reads consecutive fields of a handshake message. */
class Reader {
  #offset = 0;
  constructor(readonly bytes: Uint8Array) {}
  take(n: number): Uint8Array {
    const out = this.bytes.subarray(this.#offset, this.#offset + n);
    this.#offset += n;
    return out;
  }
  rest(): Uint8Array {
    return this.take(this.bytes.length - this.#offset);
  }
}

/**
 * The two transport ciphers of a finished handshake, from this side's point of view.
 * @example
 * ```ts
 * import type { TransportCiphers } from "./hybrid_ik.ts";
 * function describe(c: TransportCiphers): string { return `sent ${c.send.nonce} records`; }
 * ```
 */
export interface TransportCiphers {
  /** Seals what this side sends. */
  send: CipherState;
  /** Opens what the peer sends. */
  receive: CipherState;
  /** The final transcript hash (channel binding). */
  handshakeHash: Uint8Array;
}

/**
 * Options of {@linkcode HybridIkInitiator}.
 * @example
 * ```ts
 * import type { InitiatorOptions } from "./hybrid_ik.ts";
 * declare const pair: import("./keys.ts").HybridKeyPair;
 * const options: InitiatorOptions = { prologue: new Uint8Array(), localStatic: pair, remoteStatic: pair.public };
 * ```
 */
export interface InitiatorOptions {
  /** The prologue both sides mix in ({@linkcode noisePrologue}). */
  prologue: Uint8Array;
  /** The harness's own static key. */
  localStatic: HybridKeyPair;
  /** The responder's static key, pinned (from the registry bundle). */
  remoteStatic: HybridPublicKey;
  /** Handshake randomness (default WebCrypto; tests replay recorded values). */
  entropy?: HandshakeEntropy;
}

function initialState(prologue: Uint8Array, responderStatic: HybridPublicKey): SymmetricState {
  const state = new SymmetricState(NOISE_PROTOCOL_NAME);
  state.mixHash(prologue);
  state.mixHash(responderStatic.x25519);
  state.mixHash(responderStatic.mlkem768);
  return state;
}

/**
 * The harness side: writes message 1, reads message 2.
 *
 * @example
 * ```ts
 * import { HybridIkInitiator, HybridIkResponder } from "./hybrid_ik.ts";
 * import { generateHybridKeyPair } from "./keys.ts";
 * const [harness, executor] = await Promise.all([generateHybridKeyPair(), generateHybridKeyPair()]);
 * const prologue = new Uint8Array([1]);
 * const initiator = new HybridIkInitiator({ prologue, localStatic: harness, remoteStatic: executor.public });
 * const message1 = await initiator.writeMessage1(new TextEncoder().encode("authz"));
 * const pending = await HybridIkResponder.readMessage1(message1, { prologue, localStatic: executor });
 * const { message: message2, ciphers } = await pending.writeMessage2();
 * const harnessCiphers = await initiator.readMessage2(message2);
 * ```
 */
export class HybridIkInitiator {
  #options: InitiatorOptions;
  #state: SymmetricState;
  #entropy: HandshakeEntropy;
  #ephemeral: HybridKeyPair | undefined;

  /** Starts the handshake state (protocol name, prologue, pinned responder key). */
  constructor(options: InitiatorOptions) {
    this.#options = options;
    this.#entropy = options.entropy ?? webCryptoEntropy;
    this.#state = initialState(options.prologue, options.remoteStatic);
  }

  /** Message 1: `skem, e, es, s, ss` + the encrypted payload (the harness key authorization). */
  async writeMessage1(payload: Uint8Array): Promise<Uint8Array> {
    if (this.#ephemeral) throw new NoiseError("invalid_handshake", "message 1 was already written");
    const state = this.#state;
    const { localStatic, remoteStatic } = this.#options;
    if (MESSAGE1_OVERHEAD + payload.length > MAX_HANDSHAKE_MESSAGE_BYTES) {
      throw new NoiseError("invalid_handshake", "message 1 payload is too large");
    }
    const skem = await this.#entropy.encapsulate(remoteStatic.mlkem768);
    const skemCt = await state.encryptAndHash(skem.ciphertext);
    await state.mixKeyAndHash(skem.sharedSecret);
    const e = this.#ephemeral = await this.#entropy.ephemeral();
    state.mixHash(e.public.x25519);
    state.mixHash(e.public.mlkem768);
    await state.mixKey(await dh(e.x25519Private, remoteStatic.x25519));
    const sX = await state.encryptAndHash(localStatic.public.x25519);
    const sK = await state.encryptAndHash(localStatic.public.mlkem768);
    await state.mixKey(await dh(localStatic.x25519Private, remoteStatic.x25519));
    const sealed = await state.encryptAndHash(payload);
    return concat([skemCt, e.public.x25519, e.public.mlkem768, sX, sK, sealed]);
  }

  /**
   * Message 2: `ekem, skem, e, ee, se`; the payload must be empty.
   * @throws {NoiseError} `invalid_handshake` (size, payload) or `decrypt_failed`.
   */
  async readMessage2(message: Uint8Array): Promise<TransportCiphers> {
    const e = this.#ephemeral;
    if (!e) throw new NoiseError("invalid_handshake", "message 1 was not written yet");
    if (message.length !== MESSAGE2_BYTES) {
      throw new NoiseError(
        "invalid_handshake",
        `Noise message 2 is ${message.length} bytes; expected ${MESSAGE2_BYTES} (empty payload)`,
      );
    }
    const state = this.#state;
    const { localStatic } = this.#options;
    const reader = new Reader(message);
    const ekemCt = reader.take(MLKEM_CIPHERTEXT_BYTES);
    state.mixHash(ekemCt);
    await state.mixKey(await decapsulate(e.mlkemPrivate, ekemCt));
    const skemCt = await state.decryptAndHash(reader.take(MLKEM_CIPHERTEXT_BYTES + TAG_BYTES));
    await state.mixKeyAndHash(await decapsulate(localStatic.mlkemPrivate, skemCt));
    const reX = reader.take(X25519_KEY_BYTES);
    state.mixHash(reX);
    state.mixHash(reader.take(MLKEM_PUBLIC_BYTES));
    await state.mixKey(await dh(e.x25519Private, reX));
    await state.mixKey(await dh(localStatic.x25519Private, reX));
    const payload = await state.decryptAndHash(reader.rest());
    if (payload.length !== 0) {
      throw new NoiseError("invalid_handshake", "Noise message 2 carries a payload");
    }
    const [send, receive] = await state.split();
    return { send, receive, handshakeHash: state.handshakeHash };
  }
}

/**
 * Options of {@linkcode HybridIkResponder.readMessage1}.
 * @example
 * ```ts
 * import type { ResponderOptions } from "./hybrid_ik.ts";
 * declare const pair: import("./keys.ts").HybridKeyPair;
 * const options: ResponderOptions = { prologue: new Uint8Array(), localStatic: pair };
 * ```
 */
export interface ResponderOptions {
  /** The prologue both sides mix in ({@linkcode noisePrologue}). */
  prologue: Uint8Array;
  /** The executor's own static key (the registered one). */
  localStatic: HybridKeyPair;
  /** Handshake randomness (default WebCrypto; tests replay recorded values). */
  entropy?: HandshakeEntropy;
}

/** What message 2 mixes in that depends on message 1 and fresh randomness only. */
interface Message2Material {
  /** Encapsulation to the harness's ephemeral ML-KEM key. */
  ekem: Encapsulation;
  /** Encapsulation to the harness's static ML-KEM key. */
  skem: Encapsulation;
  /** The executor's ephemeral key pair. */
  e: HybridKeyPair;
  /** X25519 of `e` with the harness's ephemeral and static keys. */
  ee: Uint8Array;
  es: Uint8Array;
}

/** Entropy is drawn in message 2's order (ekem, skem, e), which recorded-entropy tests replay. */
async function prepareMessage2(
  entropy: HandshakeEntropy,
  remote: { ephemeral: HybridPublicKey; static: HybridPublicKey },
): Promise<Message2Material> {
  const ekem = await entropy.encapsulate(remote.ephemeral.mlkem768);
  const skem = await entropy.encapsulate(remote.static.mlkem768);
  const e = await entropy.ephemeral();
  const ee = await dh(e.x25519Private, remote.ephemeral.x25519);
  const es = await dh(e.x25519Private, remote.static.x25519);
  return { ekem, skem, e, ee, es };
}

/**
 * The executor side: reads message 1 (authenticating the harness key and decrypting its
 * authorization), and writes message 2 only once the caller has validated both.
 *
 * @example
 * ```ts
 * import { HybridIkResponder } from "./hybrid_ik.ts";
 * declare const message1: Uint8Array;
 * declare const executor: import("./keys.ts").HybridKeyPair;
 * const pending = await HybridIkResponder.readMessage1(message1, { prologue: new Uint8Array(), localStatic: executor });
 * // ... ask the registry whether pending.remoteStatic may use pending.payload ...
 * const { message, ciphers } = await pending.writeMessage2();
 * ```
 */
export class HybridIkResponder {
  /** The harness's static key, authenticated by message 1. */
  readonly remoteStatic: HybridPublicKey;
  /** The decrypted message 1 payload. */
  readonly payload: Uint8Array;
  #state: SymmetricState;
  #prepared: Promise<Message2Material>;
  #written = false;

  private constructor(
    state: SymmetricState,
    options: ResponderOptions,
    remote: { ephemeral: HybridPublicKey; static: HybridPublicKey; payload: Uint8Array },
  ) {
    this.#state = state;
    this.remoteStatic = remote.static;
    this.payload = remote.payload;
    // Message 2's randomness and public-key work needs only message 1, so it runs while the
    // caller asks the registry; a failure shows when message 2 is written, after validation.
    this.#prepared = prepareMessage2(options.entropy ?? webCryptoEntropy, remote);
    this.#prepared.catch(() => {});
  }

  /**
   * Reads message 1.
   * @throws {NoiseError} `invalid_handshake` (size) or `decrypt_failed` (tampered, wrong key or prologue).
   */
  static async readMessage1(
    message: Uint8Array,
    options: ResponderOptions,
  ): Promise<HybridIkResponder> {
    if (message.length < MESSAGE1_OVERHEAD || message.length > MAX_HANDSHAKE_MESSAGE_BYTES) {
      throw new NoiseError(
        "invalid_handshake",
        `Noise message 1 is ${message.length} bytes; expected ${MESSAGE1_OVERHEAD} + payload`,
      );
    }
    const { localStatic } = options;
    const state = initialState(options.prologue, localStatic.public);
    const reader = new Reader(message);
    const skemCt = await state.decryptAndHash(reader.take(MLKEM_CIPHERTEXT_BYTES));
    await state.mixKeyAndHash(await decapsulate(localStatic.mlkemPrivate, skemCt));
    const reX = new Uint8Array(reader.take(X25519_KEY_BYTES));
    state.mixHash(reX);
    const reK = new Uint8Array(reader.take(MLKEM_PUBLIC_BYTES));
    state.mixHash(reK);
    await state.mixKey(await dh(localStatic.x25519Private, reX));
    const rsX = await state.decryptAndHash(reader.take(X25519_KEY_BYTES + TAG_BYTES));
    const rsK = await state.decryptAndHash(reader.take(MLKEM_PUBLIC_BYTES + TAG_BYTES));
    await state.mixKey(await dh(localStatic.x25519Private, rsX));
    const payload = await state.decryptAndHash(reader.rest());
    return new HybridIkResponder(state, options, {
      ephemeral: { x25519: reX, mlkem768: reK },
      static: { x25519: rsX, mlkem768: rsK },
      payload,
    });
  }

  /** Message 2 (empty payload) and the transport ciphers. Call at most once. */
  async writeMessage2(): Promise<{ message: Uint8Array; ciphers: TransportCiphers }> {
    if (this.#written) throw new NoiseError("invalid_handshake", "message 2 was already written");
    this.#written = true;
    const state = this.#state;
    const { ekem, skem, e, ee, es } = await this.#prepared;
    state.mixHash(ekem.ciphertext);
    await state.mixKey(ekem.sharedSecret);
    const skemCt = await state.encryptAndHash(skem.ciphertext);
    await state.mixKeyAndHash(skem.sharedSecret);
    state.mixHash(e.public.x25519);
    state.mixHash(e.public.mlkem768);
    await state.mixKey(ee);
    await state.mixKey(es);
    const tag = await state.encryptAndHash(new Uint8Array(0));
    const [receive, send] = await state.split();
    return {
      message: concat([ekem.ciphertext, skemCt, e.public.x25519, e.public.mlkem768, tag]),
      ciphers: { send, receive, handshakeHash: state.handshakeHash },
    };
  }
}
