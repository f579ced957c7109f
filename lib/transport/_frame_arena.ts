/**
 * Buffers for large client frames (`_ws_fast_path.ts`), and their unmasking. Four 2 MiB buffers
 * live in one WebAssembly memory, where a 16-byte SIMD XOR unmasks a 1 MiB upload block's message
 * in ~0.05 ms (7x faster than a 32-bit word loop in JS, which was 0.5 ms of the JS thread per
 * block). Reusing them also saves a fresh 2 MiB allocation per block (page faults, zeroing,
 * collection: more than the rest of the work done with it). Buffers beyond the four, and frames
 * that outgrow one, are plain arrays unmasked by the word loop.
 * @module
 */
import { xorMaskInPlace } from "../util/ws_mask.ts";

/** Bytes per arena buffer: a 1 MiB upload block's message (base64 in JSON) fits. */
export const ARENA_BUFFER_BYTES = 2 * 1024 * 1024;
const ARENA_BUFFERS = 4;

/**
 * A hand-assembled module: memory of 129 pages (four buffers and a spare page, never grown, so
 * views on it stay valid) and `xor(ptr, len, mask)`, XORing `len & ~15` bytes at `ptr` with the
 * 32-bit little-endian `mask` splatted to 128 bits. In text form:
 * `(func (param $p i32) (param $n i32) (param $m i32) (local $v v128) (local $end i32)
 *   (local.set $v (i32x4.splat $m)) (local.set $end (i32.add $p (i32.and $n -16)))
 *   (block (loop (br_if 1 (i32.ge_u $p $end))
 *     (v128.store $p (v128.xor (v128.load $p) $v)) (local.set $p (i32.add $p 16)) (br 0))))`.
 */
const XOR_MODULE = new Uint8Array([
  // header; type (i32 i32 i32) -> (); one function of it; memory min 129 pages
  ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
  ...[0x01, 0x07, 0x01, 0x60, 0x03, 0x7f, 0x7f, 0x7f, 0x00],
  ...[0x03, 0x02, 0x01, 0x00],
  ...[0x05, 0x04, 0x01, 0x00, 0x81, 0x01],
  // exports "memory" (memory 0) and "xor" (function 0)
  ...[0x07, 0x10, 0x02, 0x06, 0x6d, 0x65, 0x6d, 0x6f, 0x72, 0x79, 0x02, 0x00],
  ...[0x03, 0x78, 0x6f, 0x72, 0x00, 0x00],
  // code: one body (its size, then locals v128, i32)
  ...[0x0a, 62, 0x01, 60, 0x02, 0x01, 0x7b, 0x01, 0x7f],
  ...[0x20, 0x02, 0xfd, 0x11, 0x21, 0x03], // v = i32x4.splat(mask)
  ...[0x20, 0x00, 0x20, 0x01, 0x41, 0x70, 0x71, 0x6a, 0x21, 0x04], // end = p + (n & -16)
  ...[0x02, 0x40, 0x03, 0x40], // block, loop
  ...[0x20, 0x00, 0x20, 0x04, 0x4f, 0x0d, 0x01], // br_if 1 (p >= end)
  ...[0x20, 0x00, 0x20, 0x00, 0xfd, 0x00, 0x00, 0x00], // p, v128.load p
  ...[0x20, 0x03, 0xfd, 0x51, 0xfd, 0x0b, 0x00, 0x00], // xor v, v128.store
  ...[0x20, 0x00, 0x41, 0x10, 0x6a, 0x21, 0x00, 0x0c, 0x00], // p += 16, br 0
  ...[0x0b, 0x0b, 0x0b],
]);

interface Arena {
  memory: ArrayBuffer;
  xor: (pointer: number, length: number, mask: number) => void;
  free: Uint8Array<ArrayBuffer>[];
}

let arena: Arena | null | undefined;

/** The arena, made on first use; null where WebAssembly SIMD is unavailable. */
function getArena(): Arena | null {
  if (arena === undefined) {
    arena = null;
    try {
      const instance = new WebAssembly.Instance(new WebAssembly.Module(XOR_MODULE));
      // Not shared (the module declares no shared memory).
      const memory = (instance.exports.memory as WebAssembly.Memory).buffer as ArrayBuffer;
      const free = Array.from(
        { length: ARENA_BUFFERS },
        (_, i) => new Uint8Array(memory, i * ARENA_BUFFER_BYTES, ARENA_BUFFER_BYTES),
      );
      arena = { memory, xor: instance.exports.xor as Arena["xor"], free };
    } catch {
      // no WebAssembly SIMD here: plain buffers and the word loop
    }
  }
  return arena;
}

/**
 * A buffer of {@link ARENA_BUFFER_BYTES} for one large frame: an arena buffer while one is free,
 * else a new array. Give it back with {@link releaseFrameBuffer} once nothing refers to it.
 *
 * @example
 * ```ts
 * const buffer = takeFrameBuffer();
 * releaseFrameBuffer(buffer);
 * ```
 */
export function takeFrameBuffer(): Uint8Array<ArrayBuffer> {
  return getArena()?.free.pop() ?? new Uint8Array(ARENA_BUFFER_BYTES);
}

/**
 * Returns a buffer from {@link takeFrameBuffer} (others are ignored): its bytes may be
 * overwritten by the next frame at once.
 *
 * @example
 * ```ts
 * releaseFrameBuffer(takeFrameBuffer());
 * ```
 */
export function releaseFrameBuffer(buffer: Uint8Array<ArrayBuffer>): void {
  if (
    arena && buffer.buffer === arena.memory && buffer.length === ARENA_BUFFER_BYTES &&
    !arena.free.includes(buffer)
  ) {
    arena.free.push(buffer);
  }
}

/** The 4 mask bytes as the 32-bit word the module's `xor` splats (WebAssembly is little-endian). */
function wasmMaskWord(mask: ArrayLike<number>): number {
  return mask[0] | (mask[1] << 8) | (mask[2] << 16) | (mask[3] << 24);
}

/** A 64 KiB page after the four buffers: scratch space for {@link maskInto}. */
const SCRATCH = ARENA_BUFFERS * ARENA_BUFFER_BYTES;
const SCRATCH_BYTES = 64 * 1024;

/**
 * `output[offset + i] = source[i] ^ mask[i % 4]` for `length` bytes: npm `ws`'s mask and unmask
 * of everything the fast path leaves to it (our client's sends above all), through the arena's
 * SIMD XOR 64 KiB at a time (two copies and the XOR beat `ws`'s byte loop 10x). `output` may be
 * `source` itself (in-place unmasking).
 *
 * @example
 * ```ts
 * const out = new Uint8Array(6);
 * maskInto(new Uint8Array([1, 2, 3, 4, 5]), new Uint8Array([1, 2, 3, 4]), out, 1, 5);
 * // out: [0, 0, 0, 0, 0, 4]
 * ```
 */
export function maskInto(
  source: Uint8Array,
  mask: Uint8Array,
  output: Uint8Array,
  offset: number,
  length: number,
): void {
  const memory = length >= 256 ? getArena() : null;
  if (memory === null) {
    for (let i = 0; i < length; i++) output[offset + i] = source[i] ^ mask[i & 3];
    return;
  }
  const scratch = new Uint8Array(memory.memory, SCRATCH, SCRATCH_BYTES);
  const word = wasmMaskWord(mask);
  // Each piece starts at a multiple of 4 bytes: the mask's phase carries over.
  for (let done = 0; done < length; done += SCRATCH_BYTES) {
    const n = Math.min(SCRATCH_BYTES, length - done);
    scratch.set(source.subarray(done, done + n));
    memory.xor(SCRATCH, n, word);
    xorMaskInPlace(scratch, mask, n & ~15, n & 15);
    output.set(scratch.subarray(0, n), offset + done);
  }
}

/**
 * XORs `payload` in place with a client frame's 4-byte `mask` (masking and unmasking are the same
 * operation): SIMD inside the arena, a 32-bit word at a time elsewhere.
 *
 * @example
 * ```ts
 * const payload = new Uint8Array([1, 2, 3, 4, 5]);
 * unmaskInPlace(payload, new Uint8Array([1, 2, 3, 4]));
 * // payload: [0, 0, 0, 0, 4]
 * ```
 */
export function unmaskInPlace(payload: Uint8Array, mask: Uint8Array): void {
  let done = 0;
  if (arena && payload.buffer === arena.memory) {
    arena.xor(payload.byteOffset, payload.length, wasmMaskWord(mask));
    done = payload.length & ~15;
  }
  // The rest (or all, outside the arena) a 32-bit word at a time, at any alignment; `done` is a
  // multiple of 16, so the mask's phase is unchanged.
  xorMaskInPlace(payload, mask, done, payload.length - done);
}
