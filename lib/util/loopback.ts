/**
 * Loopback host detection, shared by the HTTP proxy bypass and the listeners that refuse to run
 * unauthenticated off loopback.
 * @module
 */

/**
 * Whether a host name (as in `URL.hostname`, IPv6 with or without brackets) is loopback:
 * 127.0.0.0/8, ::1, localhost or *.localhost. `127.example.com` is not.
 *
 * @example
 * ```ts
 * isLoopbackHost("127.0.0.1"); // true
 * isLoopbackHost("[::1]"); // true
 * ```
 */
export function isLoopbackHost(host: string): boolean {
  const name = host.toLowerCase();
  return name === "localhost" || name.endsWith(".localhost") || name === "::1" ||
    name === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(name);
}
