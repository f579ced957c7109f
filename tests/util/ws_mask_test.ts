import assert from "node:assert/strict";
import fc from "fast-check";
import { xorMaskInPlace } from "../../lib/util/ws_mask.ts";

function byteMask(source: Uint8Array, mask: Uint8Array, output: Uint8Array, offset: number) {
  for (let i = 0; i < source.length; i++) output[offset + i] = source[i] ^ mask[i & 3];
}

Deno.test({
  name: "the word-wise websocket mask equals the byte-wise one at every alignment and length",
  timeout: 30_000,
}, () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 300 }),
      fc.uint8Array({ minLength: 4, maxLength: 4 }),
      fc.nat(15),
      fc.nat(15),
      (data, mask, sourceShift, offset) => {
        // Sources and outputs that start at any byte of their buffer, as Buffer pool slices do.
        const backing = new Uint8Array(data.length + sourceShift);
        backing.set(data, sourceShift);
        const source = backing.subarray(sourceShift);
        const expected = new Uint8Array(data.length + offset);
        byteMask(data, mask, expected, offset);
        const output = new Uint8Array(data.length + offset);
        output.set(source, offset);
        xorMaskInPlace(output, mask, offset, data.length);
        assert.deepEqual(output, expected);

        const inPlace = new Uint8Array(backing);
        xorMaskInPlace(inPlace.subarray(sourceShift), mask, 0, data.length);
        assert.deepEqual(inPlace.subarray(sourceShift), expected.subarray(offset));
        xorMaskInPlace(inPlace, mask, sourceShift, data.length);
        assert.deepEqual(inPlace.subarray(sourceShift), data, "masking twice restores the data");
      },
    ),
    { numRuns: 2000 },
  );
});
