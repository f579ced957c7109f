/**
 * A session: what survives a disconnect (the process table), identified by a UUID.
 * @module
 */
import type { ProcessTable } from "../process/process_table.ts";

/** Receives the session's process notifications while a connection is attached. */
export type NotificationSink = (method: string, params: unknown) => Promise<void>;

/**
 * One client session. Connections come and go; the session and its processes stay until it has
 * been detached longer than the TTL.
 *
 * @example
 * ```ts
 * const session = new Session(crypto.randomUUID(), table);
 * ```
 */
export class Session {
  readonly id: string;
  readonly processes: ProcessTable;
  constructor(id: string, processes: ProcessTable) {
    this.id = id;
    this.processes = processes;
  }
}
