/**
 * Process groups: where `setsid(1)` lives (it starts a child in a new session, so the child's
 * pid is also its group id) and how to signal a whole group. Used by the pipe and PTY spawners
 * and by the client's stdio child, which all need the same two facts.
 * @module
 */

const SETSID_DIRS = ["/usr/bin", "/bin", "/usr/local/bin"];
let setsid: string | null | undefined;

/**
 * The path of `setsid(1)` from util-linux, or `undefined` where there is none (Windows, a
 * minimal image). Looked up once: the answer cannot change while we run.
 *
 * @example
 * ```ts
 * import { setsidPath } from "./process_group.ts";
 * const program = setsidPath() ?? "setsid";
 * ```
 */
export function setsidPath(): string | undefined {
  if (setsid === undefined) {
    setsid = null;
    if (Deno.build.os !== "windows") {
      for (const dir of SETSID_DIRS) {
        try {
          const info = Deno.statSync(`${dir}/setsid`);
          if (info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0) {
            setsid = `${dir}/setsid`;
            break;
          }
        } catch {
          // not in this directory
        }
      }
    }
  }
  return setsid ?? undefined;
}

/**
 * Sends `signal` to process group `pgid`; "no such process" (and any other failure) is
 * ignored, since a group that is gone needs no signal. Refuses groups 0 and 1, which would
 * mean our own group or init's.
 *
 * @example
 * ```ts
 * import { killGroup } from "./process_group.ts";
 * killGroup(1234, "SIGINT");
 * ```
 */
export function killGroup(pgid: number, signal: Deno.Signal): void {
  if (pgid <= 1) return;
  try {
    Deno.kill(-pgid, signal);
  } catch {
    // The group is already gone: nothing to signal.
  }
}
