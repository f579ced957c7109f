/**
 * Watches a sandboxed process's output for the words a denial prints, so `process/exited` can set
 * `sandboxDenied` as upstream does: true for a non-zero exit whose output shows the sandbox said
 * no (`Read-only file system`, `Operation not permitted`, …), false for an ordinary failure.
 * @module
 */

/** Lower-case phrases that mark a denial (EROFS, EPERM, EACCES texts and seccomp's name). */
export const DENIAL_PHRASES: readonly string[] = [
  "read-only file system",
  "operation not permitted",
  "permission denied",
  "seccomp",
];

const KEEP = Math.max(...DENIAL_PHRASES.map((p) => p.length)) - 1;

/**
 * Scans output chunks for {@link DENIAL_PHRASES}, across chunk boundaries, case-insensitively;
 * stops looking after the first hit.
 *
 * @example
 * ```ts
 * const scanner = new DenialScanner();
 * scanner.push(new TextEncoder().encode("touch: cannot touch 'x': Read-only file system\n"));
 * scanner.seen; // true
 * ```
 */
export class DenialScanner {
  #seen = false;
  #tail = "";
  #decoder = new TextDecoder();

  /** Whether a denial phrase appeared so far. */
  get seen(): boolean {
    return this.#seen;
  }

  /** Feeds one output chunk. */
  push(bytes: Uint8Array): void {
    if (this.#seen) return;
    const text = this.#tail + this.#decoder.decode(bytes, { stream: true }).toLowerCase();
    if (DENIAL_PHRASES.some((phrase) => text.includes(phrase))) {
      this.#seen = true;
      this.#tail = "";
      return;
    }
    this.#tail = text.slice(-KEEP);
  }
}
