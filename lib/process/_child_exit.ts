/**
 * Waiting for a child started by `posix_spawn` (no `Deno.Command` owns it). Deno's signal
 * listener for SIGCHLD wakes the main thread directly (tokio's signal driver, the same one that
 * reaps Deno's own children), then `waitpid(pid, WNOHANG)` reaps exactly the pids we started:
 * tokio also waits on its own pids only, so neither side can steal the other's exit status.
 * Listening starts with the first running child and stops with the last.
 * @module
 */
import { reapIfExited } from "./_posix_spawn.ts";

/** Without a SIGCHLD listener: how often to ask, at most. */
const MAX_POLL_INTERVAL_MS = 50;

/**
 * A signal listener does not keep Deno's event loop alive, a running child must (as
 * `Deno.Command`'s status does): this timer does while any runs, and rechecks now and then.
 */
const KEEPALIVE_MS = 1000;

const running = new Map<number, (code: number) => void>();
let listening = false;
let keepalive: ReturnType<typeof setInterval> | undefined;

function onChildSignal(): void {
  for (const [pid, resolve] of running) {
    const code = reapIfExited(pid);
    if (code === null) continue;
    running.delete(pid);
    resolve(code);
  }
  if (running.size === 0 && listening) {
    listening = false;
    Deno.removeSignalListener("SIGCHLD", onChildSignal);
    clearInterval(keepalive);
    keepalive = undefined;
  }
}

/**
 * Resolves with the exit code of our child `pid` (the status, or 128+N for a death by signal
 * N) once it has exited and is reaped. Call once per child, right after it started.
 *
 * @example
 * ```ts
 * declare const pid: number;
 * const code = await childExit(pid);
 * ```
 */
export function childExit(pid: number): Promise<number> {
  const code = reapIfExited(pid);
  if (code !== null) return Promise.resolve(code);
  if (!listening) {
    try {
      Deno.addSignalListener("SIGCHLD", onChildSignal);
      listening = true;
      keepalive = setInterval(onChildSignal, KEEPALIVE_MS);
    } catch {
      return pollExit(pid);
    }
  }
  const { promise, resolve } = Promise.withResolvers<number>();
  running.set(pid, resolve);
  // It may have exited between the first check and the listener: a SIGCHLD from before the
  // listener existed is not replayed.
  onChildSignal();
  return promise;
}

async function pollExit(pid: number): Promise<number> {
  let interval = 1;
  for (;;) {
    const code = reapIfExited(pid);
    if (code !== null) return code;
    await new Promise((resolve) => setTimeout(resolve, interval));
    interval = Math.min(interval * 2, MAX_POLL_INTERVAL_MS);
  }
}
