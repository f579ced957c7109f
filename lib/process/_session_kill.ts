/**
 * Signalling every process of a terminal session. A PTY child is a session leader, and a shell
 * with job control puts each job in its own process group, so killing the leader's group alone
 * would leave background jobs running and holding the terminal open.
 * @module
 */
import { killGroup } from "../util/process_group.ts";

/** How long one `/proc` scan answers for: killing many sessions at once costs one scan. */
const SNAPSHOT_TTL_MS = 20;

let snapshot: { takenAt: number; groups: Map<number, Set<number>> } | undefined;

/** Process groups of every session, from one pass over `/proc` (Linux). */
function sessionsSnapshot(): Map<number, Set<number>> {
  const now = performance.now();
  if (snapshot && now - snapshot.takenAt < SNAPSHOT_TTL_MS) return snapshot.groups;
  const groups = new Map<number, Set<number>>();
  let entries: Iterable<Deno.DirEntry> = [];
  try {
    entries = Deno.readDirSync("/proc");
  } catch {
    // No /proc: callers fall back to the leader's own group.
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
    // fields: state, ppid, pgrp, session, ...
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const sid = Number(fields[3]);
    let set = groups.get(sid);
    if (!set) groups.set(sid, set = new Set());
    set.add(Number(fields[2]));
  }
  snapshot = { takenAt: now, groups };
  return groups;
}

/**
 * Process groups whose members belong to session `sid`, read from `/proc` (Linux). The leader's
 * own group is always included, so this still works without `/proc`. Scans are shared for a
 * few milliseconds, so killing every session at shutdown reads `/proc` once.
 *
 * @example
 * ```ts
 * for (const pgid of sessionGroups(1234)) console.log(pgid);
 * ```
 */
export function sessionGroups(sid: number): Set<number> {
  return new Set([sid, ...(sessionsSnapshot().get(sid) ?? [])]);
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
