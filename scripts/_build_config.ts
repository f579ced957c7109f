/**
 * What a release build produces: the target triples, the permissions baked into every binary,
 * and the artifact names. Shared by `scripts/build.ts`, `scripts/bench.ts` and the build tests so
 * the permissions the benchmark and CI exercise are exactly the ones users get.
 * @module
 */
import { VERSION } from "../lib/version.ts";

export { VERSION };

/** Target triples `deno compile --target` accepts, in release order. */
export const TARGETS = [
  "x86_64-unknown-linux-gnu",
  "aarch64-unknown-linux-gnu",
  "x86_64-apple-darwin",
  "aarch64-apple-darwin",
  "x86_64-pc-windows-msvc",
] as const;

/** One release target triple. */
export type Target = typeof TARGETS[number];

/**
 * The permissions the server needs, and why. `-A` would also grant `--allow-import` (loading code
 * from the network at run time), which the program never needs. Each flag below is exercised by
 * `tests/build/` against the built artifact; `--allow-sys` is deliberately absent (nothing calls
 * an API that needs it).
 */
export const PERMISSIONS: readonly string[] = [
  // serve/remote/rendezvous listeners and connections, http/request.
  "--allow-net",
  // process/start runs whatever program the client names.
  "--allow-run",
  // fs/* methods touch any path the client names; the PTY opens /dev/ptmx.
  "--allow-read",
  "--allow-write",
  // envPolicy inherits the server environment; SHELL/HOME/TMPDIR, CODEX_EXEC_SERVER_* settings.
  "--allow-env",
  // The PTY backend calls libc (posix_openpt, ioctl TIOCSWINSZ) through Deno FFI.
  "--allow-ffi",
];

/** The npm package that ships the Deno binary for a target (no Windows fallback is built). */
export const NPM_DENO_PACKAGES: Readonly<Partial<Record<Target, string>>> = {
  "x86_64-unknown-linux-gnu": "@deno/linux-x64-glibc",
  "aarch64-unknown-linux-gnu": "@deno/linux-arm64-glibc",
  "x86_64-apple-darwin": "@deno/darwin-x64",
  "aarch64-apple-darwin": "@deno/darwin-arm64",
};

/** File name of the bundle (single JS file runnable with `deno run`). */
export const BUNDLE_NAME = "codex-exec-server.js";

/**
 * The release file name for a target: `codex-exec-server-<triple>`, `.exe` on Windows.
 *
 * @example
 * ```ts
 * artifactName("x86_64-pc-windows-msvc"); // "codex-exec-server-x86_64-pc-windows-msvc.exe"
 * ```
 */
export function artifactName(target: Target): string {
  return `codex-exec-server-${target}${target.includes("windows") ? ".exe" : ""}`;
}

/**
 * The target triple of the machine running this script, if it is a release target.
 *
 * @example
 * ```ts
 * hostTarget(); // "x86_64-unknown-linux-gnu" on a Linux x86_64 machine
 * ```
 */
export function hostTarget(): Target | undefined {
  const found = TARGETS.find((t) => t === Deno.build.target);
  return found;
}
