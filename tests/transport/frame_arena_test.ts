/**
 * The arena's XOR (`lib/transport/_frame_arena.ts`): SIMD inside the WebAssembly memory, a word or
 * byte loop elsewhere, and the 64 KiB-at-a-time copy path `ws` masks through, all agree with the
 * plain definition (byte i XOR mask[i % 4]) at every length, offset and alignment.
 * @module
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  maskInto,
  releaseFrameBuffer,
  takeFrameBuffer,
  unmaskInPlace,
} from "../../lib/transport/_frame_arena.ts";

function reference(source: Uint8Array, mask: Uint8Array): Uint8Array {
  return source.map((byte, i) => byte ^ mask[i & 3]);
}

const lengths = fc.oneof(
  fc.integer({ min: 0, max: 300 }),
  fc.integer({ min: 60_000, max: 200_000 }),
);
const masks = fc.uint8Array({ minLength: 4, maxLength: 4 });

Deno.test({
  name: "frame arena: unmasking in an arena buffer and in plain arrays matches the definition",
  timeout: 30_000,
}, () => {
  const buffer = takeFrameBuffer();
  try {
    fc.assert(
      fc.property(
        lengths,
        fc.integer({ min: 0, max: 7 }),
        masks,
        fc.integer(),
        (n, at, mask, seed) => {
          const source = new Uint8Array(n).map((_, i) => (i * 31 + seed) & 0xff);
          const expected = reference(source, mask);
          const inArena = buffer.subarray(0, n);
          inArena.set(source);
          unmaskInPlace(inArena, mask);
          assert.deepEqual(inArena, expected);
          const plain = new Uint8Array(n + at).subarray(at); // any alignment
          plain.set(source);
          unmaskInPlace(plain, mask);
          assert.deepEqual(plain, expected);
        },
      ),
      { numRuns: 60 },
    );
  } finally {
    releaseFrameBuffer(buffer);
  }
});

Deno.test({
  name: "frame arena: maskInto (ws's mask hook) matches the definition, also in place",
  timeout: 30_000,
}, () => {
  fc.assert(
    fc.property(
      lengths,
      fc.integer({ min: 0, max: 13 }),
      masks,
      fc.integer(),
      (n, offset, mask, seed) => {
        const source = new Uint8Array(n).map((_, i) => (i * 17 + seed) & 0xff);
        const expected = reference(source, mask);
        const output = new Uint8Array(offset + n + 3).fill(0xaa);
        maskInto(source, mask, output, offset, n);
        assert.deepEqual(output.subarray(offset, offset + n), expected);
        assert.ok(output.subarray(0, offset).every((b) => b === 0xaa), "nothing before offset");
        assert.ok(output.subarray(offset + n).every((b) => b === 0xaa), "nothing after the end");
        const inPlace = source.slice();
        maskInto(inPlace, mask, inPlace, 0, n);
        assert.deepEqual(inPlace, expected);
      },
    ),
    { numRuns: 60 },
  );
});
