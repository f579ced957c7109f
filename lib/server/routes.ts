/**
 * The one route table: every JSON-RPC method this server answers, by wire name, and the handler
 * that serves it (upstream's `server/registry.rs`). `initialize` is the connection's own.
 * @module
 */
import type { MethodTable } from "../method/mod.ts";
import { processHandlers } from "../process/methods.ts";
import { PipeSpawner } from "../process/pipe_spawner.ts";
import { PtySpawner } from "../process/pty_spawner.ts";
import type { Spawner } from "../process/spawner.ts";
import { Method } from "../protocol/methods.ts";
import { environmentHandlers } from "./environment.ts";
import { lazyMethods } from "./_lazy_methods.ts";

// Areas a session may never use load on their first call (start-up time and idle memory; see
// `_lazy_methods.ts`). Processes and the environment methods are loaded at start.
const FILESYSTEM = { family: "filesystem" } as const;
const fsHandlers = lazyMethods({
  readFile: FILESYSTEM,
  writeFile: FILESYSTEM,
  createDirectory: FILESYSTEM,
  getMetadata: FILESYSTEM,
  canonicalize: FILESYSTEM,
  readDirectory: FILESYSTEM,
  walk: FILESYSTEM,
  remove: FILESYSTEM,
  copy: FILESYSTEM,
  open: FILESYSTEM,
  readBlock: FILESYSTEM,
  writeBlock: FILESYSTEM,
  watchMissing: FILESYSTEM,
  close: { family: "filesystem", lane: "control" },
}, () => import("../fs/methods.ts").then((m) => m.fsHandlers));
const httpHandlers = lazyMethods(
  { request: { family: "http" } },
  () => import("../http/methods.ts").then((m) => m.httpHandlers),
);
const configHandlers = lazyMethods(
  { read: { family: "environment config" } },
  () => import("../config/methods.ts").then((m) => m.configHandlers),
);
const DISCOVERY = { family: "capability discovery" } as const;
const discoveryHandlers = lazyMethods(
  { discoverV2: DISCOVERY, discoverRoots: DISCOVERY },
  () => import("../discovery/methods.ts").then((m) => m.discoveryHandlers),
);

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
