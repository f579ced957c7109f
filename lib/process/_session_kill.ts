/**
 * Signalling every process of a terminal session. A PTY child is a session leader, and a shell
 * with job control puts each job in its own process group, so killing the leader's group alone
 * would leave background jobs running and holding the terminal open.
 * @module
 */

/**
 * Sends `signal` to one process group; "no such process" (and any other failure) is ignored.
 *
 * @example
 * ```ts
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

/**
 * Process groups whose members belong to session `sid`, read from `/proc` (Linux). The leader's
 * own group is always included, so this still works without `/proc`.
 *
 * @example
 * ```ts
 * for (const pgid of sessionGroups(1234)) console.log(pgid);
 * ```
 */
export function sessionGroups(sid: number): Set<number> {
  const groups = new Set<number>([sid]);
  let entries: Iterable<Deno.DirEntry>;
  try {
    entries = Deno.readDirSync("/proc");
  } catch {
    return groups;
  }
  for (const entry of entries) {
    const c = entry.name.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    let stat: string;
    try {
      stat = Deno.readTextFileSync(`/proc/${entry.name}/stat`);
    } catch {
      continue; // exited while we looked
    }
    // The command name may contain spaces and parentheses: fields start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // fields: state, ppid, pgrp, session, ...
    if (Number(fields[3]) === sid) groups.add(Number(fields[2]));
  }
  return groups;
}

/**
 * Sends `signal` to every process group of session `sid`.
 *
 * @example
 * ```ts
 * killSession(1234, "SIGKILL");
 * ```
 */
export function killSession(sid: number, signal: Deno.Signal): void {
  for (const pgid of sessionGroups(sid)) killGroup(pgid, signal);
}
