/**
 * Opening a native library only where it can help: on Linux, with the FFI permission granted,
 * the first of several file names that loads. Callers keep a pure-Deno path for every other case
 * (no FFI, another OS, a missing library).
 * @module
 */

/**
 * The symbols of the first of `names` that `dlopen` loads, or null (not Linux, no `--allow-ffi`,
 * none of them present).
 *
 * @example
 * ```ts
 * const libc = openOptionalLibrary(["libc.so.6"], {
 *   getpid: { parameters: [], result: "i32" },
 * } as const);
 * console.log(libc?.getpid());
 * ```
 */
export function openOptionalLibrary<S extends Deno.ForeignLibraryInterface>(
  names: readonly string[],
  symbols: S,
): Deno.DynamicLibrary<S>["symbols"] | null {
  try {
    if (Deno.build.os !== "linux") return null;
    if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return null;
  } catch {
    return null;
  }
  for (const name of names) {
    try {
      return Deno.dlopen(name, symbols).symbols;
    } catch {
      // not this one: try the next
    }
  }
  return null;
}
