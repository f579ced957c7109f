/**
 * `pwrite(2)` on a worker thread, through Deno FFI. `node:fs` `FileHandle.write` in Deno 2.9
 * runs the write on the JS thread (0.5 ms of blocked event loop per 1 MiB upload block, measured);
 * a nonblocking FFI call runs it on a pool thread while the next block is decoded. No error
 * handling lives here: a failed or empty write answers -1 and the caller repeats it through
 * `node:fs`, which names the error the way every other fs method does.
 * @module
 */

import { openOptionalLibrary } from "../util/optional_ffi.ts";

const SYMBOLS = {
  pwrite: {
    parameters: ["i32", "buffer", "usize", "i64"],
    result: "isize",
    nonblocking: true,
  },
} as const;

let libc: Deno.DynamicLibrary<typeof SYMBOLS>["symbols"] | null | undefined;

/** libc once, or null where FFI is unavailable (then every write takes the node:fs path). */
function lib() {
  if (libc === undefined) libc = openOptionalLibrary(["libc.so.6"], SYMBOLS);
  return libc;
}

/**
 * Writes `bytes` at `position` of the open descriptor `fd` off the JS thread; resolves to the
 * number of bytes written (possibly fewer), or -1 when the call failed, wrote nothing or FFI is
 * unavailable: then write through `node:fs` to learn the error. `bytes` must not change until
 * the promise settles (the pool thread reads it in place).
 *
 * @example
 * ```ts
 * import fsp from "node:fs/promises";
 * const file = await fsp.open("/tmp/out.bin", "w");
 * const data = new TextEncoder().encode("hello");
 * if (await pwriteOffThread(file.fd, data, 0) !== data.length) await file.write(data, 0, 5, 0);
 * await file.close();
 * ```
 */
export async function pwriteOffThread(
  fd: number,
  bytes: Uint8Array,
  position: number,
): Promise<number> {
  const symbols = lib();
  if (symbols === null || bytes.length === 0 || !Number.isSafeInteger(position)) return -1;
  const written = Number(await symbols.pwrite(fd, bytes, BigInt(bytes.length), BigInt(position)));
  return written > 0 ? written : -1;
}
