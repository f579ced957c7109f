/**
 * How many connections a listener may hold, derived from the process's open-file limit so that
 * the cap, not the kernel's EMFILE, is what a flood of connections meets, and so that a machine
 * configured for many descriptors gets many connections.
 * @module
 */

/** Descriptors kept for everything that is not a connection (files, NATS, the runtime's own). */
const RESERVED_DESCRIPTORS = 256;
/** Used where the limit cannot be read (no /proc). */
const FALLBACK_CONNECTIONS = 512;
const MAX_DEFAULT_CONNECTIONS = 65_536;

/**
 * The soft `RLIMIT_NOFILE` of this process (`Max open files` in /proc/self/limits), or
 * `undefined` where it cannot be read; `Infinity` when unlimited.
 *
 * @example
 * ```ts
 * import { openFileLimit } from "./fd_limit.ts";
 * openFileLimit(); // e.g. 1024 after `ulimit -n 1024`
 * ```
 */
export function openFileLimit(): number | undefined {
  let text: string;
  try {
    text = Deno.readTextFileSync("/proc/self/limits");
  } catch {
    return undefined;
  }
  const match = /^Max open files\s+(\S+)/m.exec(text);
  if (!match) return undefined;
  if (match[1] === "unlimited") return Infinity;
  const value = Number(match[1]);
  return Number.isSafeInteger(value) && value > 0 ? value : undefined;
}

/**
 * The connection cap for an open-file limit: half of the descriptors left after a reserve (the
 * other half is for what the connections start: each process holds up to three pipes), at least
 * 64 and at most 65,536; 512 where the limit is unknown (`undefined`).
 *
 * @example
 * ```ts
 * import { connectionCapFor } from "./fd_limit.ts";
 * connectionCapFor(1024); // 384
 * connectionCapFor(20_000); // 9872
 * ```
 */
export function connectionCapFor(limit: number | undefined): number {
  if (limit === undefined) return FALLBACK_CONNECTIONS;
  const half = Math.floor((limit - RESERVED_DESCRIPTORS) / 2);
  return Math.min(MAX_DEFAULT_CONNECTIONS, Math.max(64, half));
}

/**
 * The default connection cap of a listener in this process: {@link connectionCapFor} its limit.
 *
 * @example
 * ```ts
 * import { defaultMaxConnections } from "./fd_limit.ts";
 * defaultMaxConnections(); // 384 under `ulimit -n 1024`
 * ```
 */
export function defaultMaxConnections(): number {
  return connectionCapFor(openFileLimit());
}
