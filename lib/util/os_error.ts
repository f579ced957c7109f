/**
 * Rust-style OS error texts (`No such file or directory (os error 2)`), which upstream clients
 * see in error messages, from Deno errors.
 * @module
 */

const ERRNO: Record<string, [number, string]> = {
  EPERM: [1, "Operation not permitted"],
  ENOENT: [2, "No such file or directory"],
  EIO: [5, "Input/output error"],
  EBADF: [9, "Bad file descriptor"],
  EAGAIN: [11, "Resource temporarily unavailable"],
  ENOMEM: [12, "Cannot allocate memory"],
  EACCES: [13, "Permission denied"],
  EBUSY: [16, "Device or resource busy"],
  EEXIST: [17, "File exists"],
  EXDEV: [18, "Invalid cross-device link"],
  ENOTDIR: [20, "Not a directory"],
  EISDIR: [21, "Is a directory"],
  EINVAL: [22, "Invalid argument"],
  EMFILE: [24, "Too many open files"],
  ETXTBSY: [26, "Text file busy"],
  EFBIG: [27, "File too large"],
  ENOSPC: [28, "No space left on device"],
  ESPIPE: [29, "Illegal seek"],
  EROFS: [30, "Read-only file system"],
  EPIPE: [32, "Broken pipe"],
  ENAMETOOLONG: [36, "File name too long"],
  ENOTEMPTY: [39, "Directory not empty"],
  ELOOP: [40, "Too many levels of symbolic links"],
};

/** The `code` of a Deno/Node system error, e.g. `ENOENT`, if any. */
export function errnoCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown })?.code;
  return typeof code === "string" ? code : undefined;
}

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
  return known ? `${known[1]} (os error ${known[0]})` : code;
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
  const code = errnoCode(err);
  if (code && ERRNO[code]) return osErrorText(code);
  return err instanceof Error ? err.message : String(err);
}
