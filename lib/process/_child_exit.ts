/**
 * Waiting for a child started by `posix_spawn` (no `Deno.Command` owns it). Deno's signal
 * listener for SIGCHLD wakes the main thread directly (tokio's signal driver, the same one that
 * reaps Deno's own children), then `waitpid(pid, WNOHANG)` reaps exactly the pids we started:
 * tokio also waits on its own pids only, so neither side can steal the other's exit status.
 * Listening starts with the first child and goes on (binding and unbinding the listener and a
 * timer for every short-lived child cost more than the listener does idle).
 * @module
 */
import { reapIfExited } from "./_posix_spawn.ts";

/** Without a SIGCHLD listener: how often to ask, at most. */
const MAX_POLL_INTERVAL_MS = 50;

/**
 * A signal listener does not keep Deno's event loop alive, a running child must (as
 * `Deno.Command`'s status does): this timer, referenced only while any runs, does, and rechecks
 * now and then.
 */
const KEEPALIVE_MS = 1000;

const running = new Map<number, (code: number) => void>();
let listening = false;
let keepalive: ReturnType<typeof setInterval> | undefined;
let keepingAlive = false;

function onChildSignal(): void {
  for (const [pid, resolve] of running) {
    const code = reapIfExited(pid);
    if (code === null) continue;
    running.delete(pid);
    resolve(code);
  }
  if (running.size === 0 && keepingAlive) {
    keepingAlive = false;
    Deno.unrefTimer(keepalive!);
  }
}

/**
 * Resolves with the exit code of our child `pid` (the status, or 128+N for a death by signal
 * N) once it has exited and is reaped. Call once per child, right after it started (in the same
 * synchronous run as the spawn).
 *
 * @example
 * ```ts
 * declare const pid: number;
 * const code = await childExit(pid);
 * ```
 */
export function childExit(pid: number): Promise<number> {
  let listenerIsNew = false;
  if (!listening) {
    try {
      Deno.addSignalListener("SIGCHLD", onChildSignal);
      listening = true;
      listenerIsNew = true;
      keepalive = setInterval(onChildSignal, KEEPALIVE_MS);
      keepingAlive = true;
    } catch {
      return pollExit(pid);
    }
  }
  const { promise, resolve } = Promise.withResolvers<number>();
  running.set(pid, resolve);
  if (!keepingAlive) {
    keepingAlive = true;
    Deno.refTimer(keepalive!);
  }
  // A SIGCHLD from before the listener existed is not replayed: look once. With the listener in
  // place, the child's SIGCHLD is handled after this call returns (nothing else runs meanwhile)
  // and finds it in `running`.
  if (listenerIsNew) onChildSignal();
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
