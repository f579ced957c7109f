/**
 * The local terminal for `exec -t`: raw mode that is always undone, and the window size.
 * @module
 */

/**
 * Puts stdin in raw mode (no echo, no line editing, ^C as a byte). The returned function
 * restores it; it also runs on `unload`, so a `Deno.exit` anywhere cannot leave the shell raw.
 *
 * @example
 * ```ts
 * declare function session(): Promise<void>;
 * const restore = enterRawMode();
 * try { await session(); } finally { restore(); }
 * ```
 */
export function enterRawMode(): () => void {
  Deno.stdin.setRaw(true);
  let restored = false;
  const restore = () => {
    if (restored) return;
    restored = true;
    globalThis.removeEventListener("unload", restore);
    try {
      Deno.stdin.setRaw(false);
    } catch {
      // the terminal is gone
    }
  };
  globalThis.addEventListener("unload", restore);
  return restore;
}

/**
 * The local window size, or `undefined` when no terminal is attached.
 *
 * @example
 * ```ts
 * terminalSize(); // { rows: 50, cols: 120 }
 * ```
 */
export function terminalSize(): { rows: number; cols: number } | undefined {
  try {
    const { rows, columns } = Deno.consoleSize();
    return rows > 0 && columns > 0 ? { rows, cols: columns } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Writes all of `bytes` (a terminal or pipe may take fewer per call).
 *
 * @example
 * ```ts
 * await writeAll(Deno.stdout, new TextEncoder().encode("hi\n"));
 * ```
 */
export async function writeAll(
  target: { write(p: Uint8Array): Promise<number> },
  bytes: Uint8Array,
): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) offset += await target.write(bytes.subarray(offset));
}

const TCIFLUSH = 0;
let tcflush: ((fd: number, queue: number) => number) | null | undefined;

/**
 * Discards what was typed on the local terminal and not read yet (`tcflush(0, TCIFLUSH)`), so
 * a line typed for the remote side is never run by the local shell once we hand the terminal
 * back. A no-op when stdin is not a terminal, or off Linux.
 *
 * @example
 * ```ts
 * import { discardTypedInput } from "./_terminal.ts";
 * discardTypedInput();
 * ```
 */
export function discardTypedInput(): void {
  if (Deno.build.os !== "linux" || tcflush === null || !Deno.stdin.isTerminal()) return;
  try {
    tcflush ??= Deno.dlopen("libc.so.6", {
      tcflush: { parameters: ["i32", "i32"], result: "i32" },
    }).symbols.tcflush;
    tcflush(0, TCIFLUSH);
  } catch {
    tcflush = null; // no FFI permission: nothing more we can do
  }
}
