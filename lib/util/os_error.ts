/**
 * Rust-style OS error texts (`No such file or directory (os error 2)`), which upstream clients
 * see in error messages, from Deno errors: the one errno table of the project.
 * @module
 */

/** The `io::ErrorKind`s that decide a JSON-RPC code (see lib/fs/io_error.ts). */
export type ErrnoKind = "notFound" | "invalidInput" | "permissionDenied" | "other";

/** One errno: its number, its display text and its kind. */
export interface Errno {
  readonly errno: number;
  readonly text: string;
  readonly kind: ErrnoKind;
}

/**
 * Errno names to their Linux number, musl strerror text (the upstream Linux binary is a musl
 * build) and kind.
 */
export const ERRNO: Readonly<Record<string, Errno>> = {
  EPERM: { errno: 1, text: "Operation not permitted", kind: "permissionDenied" },
  ENOENT: { errno: 2, text: "No such file or directory", kind: "notFound" },
  EIO: { errno: 5, text: "I/O error", kind: "other" },
  ENXIO: { errno: 6, text: "No such device or address", kind: "other" },
  E2BIG: { errno: 7, text: "Argument list too long", kind: "other" },
  ENOEXEC: { errno: 8, text: "Exec format error", kind: "other" },
  EBADF: { errno: 9, text: "Bad file descriptor", kind: "other" },
  EAGAIN: { errno: 11, text: "Resource temporarily unavailable", kind: "other" },
  EWOULDBLOCK: { errno: 11, text: "Resource temporarily unavailable", kind: "other" },
  ENOMEM: { errno: 12, text: "Out of memory", kind: "other" },
  EACCES: { errno: 13, text: "Permission denied", kind: "permissionDenied" },
  EBUSY: { errno: 16, text: "Resource busy", kind: "other" },
  EEXIST: { errno: 17, text: "File exists", kind: "other" },
  EXDEV: { errno: 18, text: "Cross-device link", kind: "other" },
  ENODEV: { errno: 19, text: "No such device", kind: "other" },
  ENOTDIR: { errno: 20, text: "Not a directory", kind: "other" },
  EISDIR: { errno: 21, text: "Is a directory", kind: "other" },
  EINVAL: { errno: 22, text: "Invalid argument", kind: "invalidInput" },
  ENFILE: { errno: 23, text: "Too many open files in system", kind: "other" },
  EMFILE: { errno: 24, text: "No file descriptors available", kind: "other" },
  ETXTBSY: { errno: 26, text: "Text file busy", kind: "other" },
  EFBIG: { errno: 27, text: "File too large", kind: "other" },
  ENOSPC: { errno: 28, text: "No space left on device", kind: "other" },
  ESPIPE: { errno: 29, text: "Invalid seek", kind: "other" },
  EROFS: { errno: 30, text: "Read-only file system", kind: "other" },
  EMLINK: { errno: 31, text: "Too many links", kind: "other" },
  ENAMETOOLONG: { errno: 36, text: "Filename too long", kind: "invalidInput" },
  ENOTEMPTY: { errno: 39, text: "Directory not empty", kind: "other" },
  ELOOP: { errno: 40, text: "Symbolic link loop", kind: "other" },
  EOPNOTSUPP: { errno: 95, text: "Not supported", kind: "other" },
  EDQUOT: { errno: 122, text: "Quota exceeded", kind: "other" },
};

/**
 * Formats an errno name like Rust's `io::Error` display.
 *
 * @example
 * ```ts
 * osErrorText("ENOENT"); // "No such file or directory (os error 2)"
 * ```
 */
export function osErrorText(code: string): string {
  const known = ERRNO[code];
  return known ? `${known.text} (os error ${known.errno})` : code;
}

/**
 * Formats any thrown error like Rust's `io::Error` display when it carries an errno code,
 * else its message.
 *
 * @example
 * ```ts
 * try { Deno.statSync("/missing"); } catch (e) { osErrorMessage(e); }
 * ```
 */
export function osErrorMessage(err: unknown): string {
  const code = (err as { code?: unknown })?.code;
  if (typeof code === "string" && ERRNO[code]) return osErrorText(code);
  return err instanceof Error ? err.message : String(err);
}
