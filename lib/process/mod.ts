/**
 * Processes: the per-session process table, the `process/*` handlers, and the pipe and PTY
 * backends behind the {@link Spawner} interface.
 *
 * @example
 * ```ts
 * import { PipeSpawner, processHandlers } from "./mod.ts";
 * const process = processHandlers({ spawners: { pipe: new PipeSpawner() } });
 * ```
 * @module
 */
export { type ProcessHandlers, processHandlers, type ProcessHandlersOptions } from "./methods.ts";
export { ProcessTable, type ProcessTableOptions, type StartRequest } from "./process_table.ts";
export { PipeSpawner } from "./pipe_spawner.ts";
export { PtySpawner } from "./pty_spawner.ts";
export type { ChildHandle, OutputStream, Spawner, SpawnRequest } from "./spawner.ts";
export { buildChildEnv } from "./env_policy.ts";
