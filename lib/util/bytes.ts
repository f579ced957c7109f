/**
 * Byte arrays joined end to end: the one copy loop behind stdio lines, confined-helper answers,
 * HTTP bodies, queued socket writes and the NATS link's batched sends.
 * @module
 */

/**
 * A new array holding `parts` one after another; `total` is their summed length when the caller
 * already counted it.
 *
 * @example
 * ```ts
 * concatBytes([new Uint8Array([1]), new Uint8Array([2, 3])]); // Uint8Array [1, 2, 3]
 * ```
 */
export function concatBytes(
  parts: readonly Uint8Array[],
  total = parts.reduce((n, part) => n + part.length, 0),
): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
