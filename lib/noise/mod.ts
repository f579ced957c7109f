/**
 * The hybrid post-quantum Noise IK layer of codex's E5 relay
 * (`Noise_hybridIK_25519+MLKEM768_AESGCM_SHA256`), on Deno's WebCrypto: keys and their
 * registry JSON, the prologue, the handshake (both roles), and the transport records with
 * their inner `u32be length ‖ JSON` framing and reorder buffer.
 *
 * @example
 * ```ts
 * import { generateHybridKeyPair, HybridIkInitiator, HybridIkResponder, NoiseChannel, noisePrologue } from "./mod.ts";
 * const [harness, executor] = await Promise.all([generateHybridKeyPair(), generateHybridKeyPair()]);
 * const prologue = noisePrologue({ environmentId: "env-1", registrationId: "reg-1", streamId: crypto.randomUUID() });
 * const initiator = new HybridIkInitiator({ prologue, localStatic: harness, remoteStatic: executor.public });
 * const message1 = await initiator.writeMessage1(new TextEncoder().encode("authz"));
 * const pending = await HybridIkResponder.readMessage1(message1, { prologue, localStatic: executor });
 * const { message: message2 } = await pending.writeMessage2();
 * const channel = new NoiseChannel(await initiator.readMessage2(message2));
 * ```
 * @module
 */
export { NoiseError, type NoiseErrorCode } from "./errors.ts";
export {
  CipherState,
  type Encapsulation,
  type HandshakeEntropy,
  HybridIkInitiator,
  HybridIkResponder,
  type InitiatorOptions,
  MAX_HANDSHAKE_MESSAGE_BYTES,
  MESSAGE1_OVERHEAD,
  MESSAGE2_BYTES,
  NOISE_PROTOCOL_NAME,
  type ResponderOptions,
  type TransportCiphers,
  webCryptoEntropy,
} from "./hybrid_ik.ts";
export {
  exportHybridSecret,
  generateHybridKeyPair,
  type GenerateKeyOptions,
  type HybridKeyPair,
  type HybridPublicKey,
  type HybridSecret,
  importHybridKeyPair,
  MLKEM_CIPHERTEXT_BYTES,
  MLKEM_PUBLIC_BYTES,
  MLKEM_SEED_BYTES,
  NOISE_SUITE,
  publicKeyFromJson,
  type PublicKeyJson,
  publicKeyToJson,
  sameHybridKey,
  SECURITY_PROFILE,
  X25519_KEY_BYTES,
} from "./keys.ts";
export { noisePrologue, type PrologueParts } from "./prologue.ts";
export {
  checkMessageLength,
  frameMessage,
  frameMessages,
  InnerFrameDecoder,
  MAX_NOISE_MESSAGE_BYTES,
  NOISE_RECORD_PLAINTEXT_BYTES,
  NoiseChannel,
  REORDER_LIMITS,
  ReorderBuffer,
  type SealedRecord,
} from "./records.ts";
