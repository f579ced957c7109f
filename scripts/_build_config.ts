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
 * The permissions the server needs where the platform lets us name them, and why. `-A` would
 * also grant `--allow-import` (loading code from the network at run time), which the program
 * never needs. `--allow-sys` is deliberately absent: nothing calls an API that needs it.
 */
export const NARROW_PERMISSIONS: readonly string[] = [
  // serve/remote/rendezvous listeners and connections, http/request.
  "--allow-net",
  // process/start runs whatever program the client names.
  "--allow-run",
  // fs/* methods touch any path the client names.
  "--allow-read",
  "--allow-write",
  // envPolicy inherits the server environment; SHELL/HOME/TMPDIR, CODEX_EXEC_SERVER_* settings.
  "--allow-env",
  // The PTY backend calls libc (posix_openpt, ioctl TIOCSWINSZ) through Deno FFI.
  "--allow-ffi",
];

/**
 * Linux needs `--allow-all`: Deno 2.9 refuses every read under /proc and /sys ("Requires all
 * access ... run again with the --allow-all flag") to anything less, even `--allow-read` (tested;
 * `-A --deny-import` is refused too). The server reads /proc to find every process group of a
 * PTY session when it kills one (terminate, session expiry), and clients' fs/* requests may name
 * /proc or /sys paths, which upstream serves. With the narrow list, killing a PTY job's
 * grandchildren in other job groups fails (tests/process/pty_server_test.ts shows it).
 */
export const LINUX_PERMISSIONS: readonly string[] = ["--allow-all"];

/**
 * The permissions baked into the binary for `target`.
 *
 * @example
 * ```ts
 * permissionsFor("aarch64-apple-darwin"); // NARROW_PERMISSIONS
 * ```
 */
export function permissionsFor(target: Target): readonly string[] {
  return target.includes("linux") ? LINUX_PERMISSIONS : NARROW_PERMISSIONS;
}

/** The permissions of the platform-independent bundle's shebang and of the Linux fallback. */
export const PERMISSIONS: readonly string[] = LINUX_PERMISSIONS;

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
