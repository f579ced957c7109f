/**
 * AES-256-GCM on `libcrypto` (`lib/noise/_gcm_native.ts`) against WebCrypto: the same sealed
 * bytes for every size and nonce, each side opens what the other sealed, and any change to the
 * ciphertext, tag, nonce or associated data fails authentication.
 * @module
 */
import assert from "node:assert/strict";
import { nativeGcm } from "../../lib/noise/_gcm_native.ts";

function random(length: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(length);
  for (let offset = 0; offset < length; offset += 65536) {
    crypto.getRandomValues(bytes.subarray(offset, Math.min(length, offset + 65536)));
  }
  return bytes;
}

async function webSeal(key: Uint8Array, nonce: Uint8Array, ad: Uint8Array, data: Uint8Array) {
  const k = await crypto.subtle.importKey("raw", new Uint8Array(key), "AES-GCM", false, [
    "encrypt",
  ]);
  return new Uint8Array(
    await crypto.subtle.encrypt(
      { name: "AES-GCM", iv: new Uint8Array(nonce), additionalData: new Uint8Array(ad) },
      k,
      new Uint8Array(data),
    ),
  );
}

Deno.test({
  name: "gcm native: seals what WebCrypto seals, opens it, and refuses every tampered record",
  timeout: 30_000,
}, async () => {
  const key = random(32);
  const gcm = nativeGcm(key);
  assert.ok(gcm, "libcrypto.so.3 (Debian's libssl3) should load here");
  for (const size of [0, 1, 15, 16, 17, 1000, 61_440, 65_535]) {
    for (const ad of [new Uint8Array(0), random(7)]) {
      const nonce = random(12);
      const plaintext = random(size);
      const sealed = gcm.seal(nonce, ad, plaintext);
      assert.deepEqual(sealed, await webSeal(key, nonce, ad, plaintext), `seal of ${size} bytes`);
      assert.deepEqual(gcm.open(nonce, ad, sealed), plaintext, `open of ${size} bytes`);
      const flips = [0, size, sealed.length - 1].filter((i) => i < sealed.length);
      for (const at of flips) {
        const tampered = new Uint8Array(sealed);
        tampered[at] ^= 1;
        assert.equal(gcm.open(nonce, ad, tampered), null, `byte ${at} of ${size} flipped`);
      }
      const otherNonce = new Uint8Array(nonce);
      otherNonce[11] ^= 1;
      assert.equal(gcm.open(otherNonce, ad, sealed), null, "another nonce");
      assert.equal(gcm.open(nonce, random(3), sealed), null, "other associated data");
      // A record that fails leaves the key usable for the next one.
      assert.deepEqual(gcm.open(nonce, ad, sealed), plaintext);
    }
  }
  assert.equal(nativeGcm(random(32))?.open(random(12), new Uint8Array(0), random(40)), null);
  assert.throws(() => gcm.seal(random(8), new Uint8Array(0), random(4)), RangeError);
  assert.throws(() => gcm.open(random(12), new Uint8Array(0), random(15)), RangeError);
  assert.throws(() => nativeGcm(random(16)), RangeError);
});
