/**
 * Standard padded base64 (RFC 4648 §4) on the engine's native codec.
 * @module
 */

interface Base64Uint8Array {
  toBase64(): string;
}
interface Base64Uint8ArrayConstructor {
  fromBase64(text: string, options: { lastChunkHandling: "strict" }): Uint8Array;
}

/**
 * Encodes bytes as padded base64.
 *
 * @example
 * ```ts
 * encodeBase64(new TextEncoder().encode("hi\n")); // "aGkK"
 * ```
 */
export function encodeBase64(bytes: Uint8Array): string {
  return (bytes as unknown as Base64Uint8Array).toBase64();
}

/**
 * Decodes padded base64 strictly; throws `SyntaxError` on any invalid input.
 *
 * @example
 * ```ts
 * decodeBase64("aGkK"); // Uint8Array [104, 105, 10]
 * ```
 */
export function decodeBase64(text: string): Uint8Array {
  return (Uint8Array as unknown as Base64Uint8ArrayConstructor).fromBase64(text, {
    lastChunkHandling: "strict",
  });
}
