/**
 * Maps operating-system I/O failures to JSON-RPC errors the way upstream does (spec §3.3):
 * `NotFound` → -32004, `InvalidInput`/`PermissionDenied` → -32600, everything else → -32603.
 *
 * Messages start with the Rust `io::Error` display of the reference build (musl `strerror` text
 * plus `(os error N)`), so clients matching on upstream text keep working, and then name the
 * operation and path that failed so a user can act on it.
 * @module
 */
import { ErrorCode, RpcError } from "../jsonrpc/errors.ts";
import { ERRNO, type ErrnoKind } from "../util/os_error.ts";

export { osErrorText } from "../util/os_error.ts";

// Deno error classes that arrive without an errno `code`.
const CLASS_KIND: Record<string, ErrnoKind> = {
  NotFound: "notFound",
  PermissionDenied: "permissionDenied",
  NotCapable: "permissionDenied",
  InvalidData: "invalidInput",
};

const CODE_OF_KIND: Record<ErrnoKind, number> = {
  notFound: ErrorCode.NotFound,
  invalidInput: ErrorCode.InvalidRequest,
  permissionDenied: ErrorCode.InvalidRequest,
  other: ErrorCode.Internal,
};

/** Where an I/O failure happened, used when the runtime's error does not already say. */
export interface IoErrorContext {
  /** What was being done, e.g. `open` or `fs/copy`. */
  operation?: string;
  /** The native path involved. */
  path?: string;
}

/**
 * Builds the RpcError for an errno name with an optional context, for failures we detect
 * ourselves (e.g. a symlink where none may be followed).
 *
 * @example
 * ```ts
 * throw osError("EISDIR", { operation: "open", path: "/tmp/dir" });
 * ```
 */
export function osError(code: string, context: IoErrorContext = {}): RpcError {
  const entry = ERRNO[code] ?? { errno: 0, text: code, kind: "other" as const };
  return new RpcError(
    CODE_OF_KIND[entry.kind],
    `${entry.text} (os error ${entry.errno})${describeContext(context)}`,
  );
}

function describeContext(context: IoErrorContext): string {
  if (context.path === undefined) return "";
  return context.operation ? `: ${context.operation} '${context.path}'` : `: '${context.path}'`;
}

// Deno's own messages already end in `: <syscall> '<path>'`; node:fs errors carry syscall/path.
function contextOf(err: Error & { syscall?: unknown; path?: unknown; dest?: unknown }): string {
  const deno = /\(os error \d+\)(: .+)$/s.exec(err.message);
  if (deno) return deno[1];
  if (typeof err.syscall === "string" && typeof err.path === "string") {
    const dest = typeof err.dest === "string" ? ` -> '${err.dest}'` : "";
    return `: ${err.syscall} '${err.path}'${dest}`;
  }
  return "";
}

/**
 * Converts anything a filesystem call threw into the RpcError upstream would answer with.
 * RpcErrors pass through unchanged.
 *
 * @example
 * ```ts
 * declare const path: string;
 * try {
 *   await Deno.stat(path);
 * } catch (err) {
 *   throw ioError(err, { operation: "stat", path });
 * }
 * ```
 */
export function ioError(err: unknown, context: IoErrorContext = {}): RpcError {
  if (err instanceof RpcError) return err;
  if (!(err instanceof Error)) return new RpcError(ErrorCode.Internal, String(err));
  const code = (err as { code?: unknown }).code;
  const entry = typeof code === "string" ? ERRNO[code] : undefined;
  const suffix = contextOf(err) || describeContext(context);
  if (entry) {
    return new RpcError(
      CODE_OF_KIND[entry.kind],
      `${entry.text} (os error ${entry.errno})${suffix}`,
    );
  }
  const kind = CLASS_KIND[err.name] ?? "other";
  const message = /\(os error \d+\)/.test(err.message)
    ? err.message
    : `${err.message}${describeContext(context)}`;
  return new RpcError(CODE_OF_KIND[kind], message);
}

/**
 * Runs `task`, converting any I/O failure with {@linkcode ioError}.
 *
 * @example
 * ```ts
 * declare const path: string;
 * const info = await mapIoErrors(() => Deno.stat(path), { operation: "stat", path });
 * ```
 */
export async function mapIoErrors<T>(
  task: () => Promise<T>,
  context: IoErrorContext = {},
): Promise<T> {
  try {
    return await task();
  } catch (err) {
    throw ioError(err, context);
  }
}

/**
 * Whether `err` is a "not found" failure (ENOENT), whatever API raised it.
 *
 * @example
 * ```ts
 * declare const err: unknown;
 * if (!isNotFound(err)) throw err; // gone already is fine
 * ```
 */
export function isNotFound(err: unknown): boolean {
  return err instanceof Deno.errors.NotFound ||
    (err instanceof Error && (err as { code?: unknown }).code === "ENOENT") ||
    (err instanceof RpcError && err.code === ErrorCode.NotFound);
}
