/**
 * Dead-connection detection for the executor's rendezvous websocket. Relay heartbeats only run
 * on streams, so an idle executor would never notice a silently dead connection; our rendezvous
 * sends keepalive frames at a fixed interval for that, and this watch turns their absence into
 * a verdict.
 * @module
 */
import { isKeepalive } from "../relay/keepalive.ts";

/** Options of {@link watchKeepalives}. */
export interface KeepaliveWatchOptions {
  /** Silence for this many keepalive intervals means the connection is dead. */
  misses: number;
  /** Called (every check while it lasts) once the connection counts as dead. */
  onDead(silentMs: number, intervalMs: number): void;
  /** How often silence is checked. Default 250 ms. */
  checkEveryMs?: number;
}

/**
 * Watches `socket` for keepalives. Once two have been seen (so the interval is known), silence
 * (no message at all) for `misses` intervals calls `onDead`. A rendezvous that sends no
 * keepalives is never judged. Returns the function that stops watching.
 *
 * @example
 * ```ts ignore
 * const stop = watchKeepalives(socket, {
 *   misses: 3,
 *   onDead: (silentMs) => socket.close(4000, `silent for ${silentMs} ms`),
 * });
 * ```
 */
export function watchKeepalives(socket: WebSocket, options: KeepaliveWatchOptions): () => void {
  let lastInbound = performance.now();
  let lastKeepalive: number | undefined;
  let intervalMs: number | undefined;
  const onMessage = (event: MessageEvent) => {
    const now = performance.now();
    lastInbound = now;
    if (event.data instanceof ArrayBuffer && isKeepalive(new Uint8Array(event.data))) {
      if (lastKeepalive !== undefined) {
        intervalMs = Math.max(intervalMs ?? 0, now - lastKeepalive);
      }
      lastKeepalive = now;
    }
  };
  socket.addEventListener("message", onMessage);
  const timer = setInterval(() => {
    if (intervalMs === undefined) return;
    const silentMs = performance.now() - lastInbound;
    if (silentMs > options.misses * Math.max(intervalMs, 100)) options.onDead(silentMs, intervalMs);
  }, options.checkEveryMs ?? 250);
  return () => {
    clearInterval(timer);
    socket.removeEventListener("message", onMessage);
  };
}
