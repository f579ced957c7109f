import assert from "node:assert/strict";
import fc from "fast-check";
import { Base64Error, decodeBase64, encodeBase64 } from "../../lib/util/base64.ts";

function decodeError(text: string, into?: Uint8Array<ArrayBuffer>): string | undefined {
  try {
    decodeBase64(text, into);
    return undefined;
  } catch (err) {
    assert(err instanceof Base64Error);
    return err.message;
  }
}

Deno.test({
  name: "base64 decoding reports the Rust base64 crate's texts",
  timeout: 15_000,
}, () => {
  assert.equal(decodeError("a"), "Invalid input length: 1");
  assert.equal(decodeError("aGVsbG8=a"), "Invalid input length: 9");
  assert.equal(decodeError("!!!!"), "Invalid symbol 33, offset 0.");
  assert.equal(decodeError("aG k="), "Invalid symbol 32, offset 2.");
  assert.equal(decodeError("aGk"), "Invalid padding");
  assert.equal(decodeError("aGk=aGk="), "Invalid symbol 61, offset 3.");
  assert.equal(decodeError("aGl="), "Invalid last symbol 108, offset 2.");
  assert.equal(decodeError(""), undefined);
  assert.deepEqual(decodeBase64("aGVsbG8="), new TextEncoder().encode("hello"));
});

Deno.test({
  name: "base64 round-trips any bytes",
  timeout: 15_000,
}, () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
    const text = encodeBase64(bytes);
    assert.equal(text, btoa(String.fromCharCode(...bytes)));
    assert.deepEqual(decodeBase64(text), bytes);
  }));
});

Deno.test({
  name: "base64 accepts exactly what strict standard decoding accepts",
  timeout: 15_000,
}, () => {
  // No whitespace in the alphabet: the platform decoder skips it, the Rust engine does not.
  const symbol = fc.constantFrom(..."ABCDQRSgwz019+/=-_!".split(""));
  fc.assert(
    fc.property(fc.array(symbol, { maxLength: 16 }), (symbols) => {
      const text = symbols.join("");
      let platform = true;
      try {
        Uint8Array.fromBase64(text, { lastChunkHandling: "strict" });
      } catch {
        platform = false;
      }
      assert.equal(decodeError(text) === undefined, platform, `disagreement on ${text}`);
      assert.equal(decodeError(text, new Uint8Array(12)), decodeError(text), `into: ${text}`);
    }),
    { numRuns: 2000 },
  );
});

Deno.test({
  name: "decodeBase64 fast path still refuses what Rust refuses (whitespace, bad padding)",
  timeout: 15_000,
}, () => {
  const cases: [string, string][] = [
    ["aGk= ", "Invalid symbol 32, offset 4."],
    ["aG k", "Invalid symbol 32, offset 2."],
    ["aGk\n", "Invalid symbol 10, offset 3."],
    ["a\tGk", "Invalid symbol 9, offset 1."],
    ["aGl=", "Invalid last symbol 108, offset 2."],
    ["aG==aGk=", "Invalid symbol 61, offset 2."],
  ];
  for (const [text, message] of cases) {
    assert.throws(() => decodeBase64(text), { message }, JSON.stringify(text));
    assert.throws(() => decodeBase64(text, new Uint8Array(8)), { message }, JSON.stringify(text));
  }
  const big = new Uint8Array(1 << 20).map((_, i) => i * 7);
  assert.deepEqual(decodeBase64(big.toBase64()), big);
});

Deno.test({
  name: "decodeBase64 into a buffer: the same bytes at its start, or a new array when too small",
  timeout: 15_000,
}, () => {
  const into = new Uint8Array(64).fill(0xee);
  fc.assert(fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
    const decoded = decodeBase64(encodeBase64(bytes), into);
    assert.deepEqual(decoded, bytes);
    // Fits: the buffer's own start; too long for it: a fresh array, the buffer untouched.
    assert.equal(decoded.buffer === into.buffer, bytes.length <= into.length);
  }));
  const untouched = new Uint8Array(2).fill(0xee);
  assert.deepEqual(decodeBase64("aGVsbG8=", untouched), new TextEncoder().encode("hello"));
  assert.deepEqual(untouched, new Uint8Array([0xee, 0xee]));
});
