/**
 * The one route table: every JSON-RPC method this server answers, by wire name, and the handler
 * that serves it (upstream's `server/registry.rs`). `initialize` is the connection's own.
 * @module
 */
import { configHandlers } from "../config/methods.ts";
import { discoveryHandlers } from "../discovery/methods.ts";
import { fsHandlers } from "../fs/methods.ts";
import { httpHandlers } from "../http/methods.ts";
import type { MethodTable } from "../method/mod.ts";
import { processHandlers } from "../process/methods.ts";
import { PipeSpawner } from "../process/pipe_spawner.ts";
import { PtySpawner } from "../process/pty_spawner.ts";
import type { Spawner } from "../process/spawner.ts";
import { Method } from "../protocol/methods.ts";
import { environmentHandlers } from "./environment.ts";

/** Options of {@link routeTable}; defaults are upstream's. */
export interface RouteOptions {
  /** Process backends; defaults: {@link PipeSpawner}, and {@link PtySpawner} on Linux. */
  spawners?: { pipe?: Spawner; pty?: Spawner };
  /** How long a closed process stays readable (default 30 s). */
  processRetentionMs?: number;
}

/**
 * Every method by wire name.
 *
 * @example
 * ```ts
 * import { ExecServerCore } from "./core.ts";
 * const core = new ExecServerCore({ methods: routeTable() });
 * ```
 */
export function routeTable(options: RouteOptions = {}): MethodTable {
  const process = processHandlers({
    spawners: {
      pipe: options.spawners?.pipe ?? new PipeSpawner(),
      pty: options.spawners?.pty ?? (Deno.build.os === "linux" ? new PtySpawner() : undefined),
    },
    closedRetentionMs: options.processRetentionMs ?? 30_000,
  });
  return {
    [Method.environmentInfo]: environmentHandlers.info,
    [Method.environmentStatus]: environmentHandlers.status,
    [Method.environmentConfigRead]: configHandlers.read,

    [Method.processStart]: process.start,
    [Method.processRead]: process.read,
    [Method.processWrite]: process.write,
    [Method.processSignal]: process.signal,
    [Method.processResize]: process.resize,
    [Method.processCloseStdin]: process.closeStdin,
    [Method.processTerminate]: process.terminate,

    [Method.fsReadFile]: fsHandlers.readFile,
    [Method.fsWriteFile]: fsHandlers.writeFile,
    [Method.fsCreateDirectory]: fsHandlers.createDirectory,
    [Method.fsGetMetadata]: fsHandlers.getMetadata,
    [Method.fsCanonicalize]: fsHandlers.canonicalize,
    [Method.fsReadDirectory]: fsHandlers.readDirectory,
    [Method.fsWalk]: fsHandlers.walk,
    [Method.fsRemove]: fsHandlers.remove,
    [Method.fsCopy]: fsHandlers.copy,
    [Method.fsOpen]: fsHandlers.open,
    [Method.fsReadBlock]: fsHandlers.readBlock,
    [Method.fsWriteBlock]: fsHandlers.writeBlock,
    [Method.fsWatchMissing]: fsHandlers.watchMissing,
    [Method.fsClose]: fsHandlers.close,

    [Method.httpRequest]: httpHandlers.request,

    [Method.capabilitiesDiscoverV2]: discoveryHandlers.discoverV2,
    [Method.capabilityRootsDiscoverV1]: discoveryHandlers.discoverRoots,
  };
}
