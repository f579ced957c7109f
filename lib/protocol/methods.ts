/**
 * Wire names of every JSON-RPC method and notification, one constant each, so the server's route
 * table, its handlers and the client cannot spell a name two ways.
 * @module
 */

/**
 * Request methods (client → server).
 *
 * @example
 * ```ts
 * import type { ExecServerClient } from "../client/client.ts";
 * declare const client: ExecServerClient;
 * await client.call(Method.environmentStatus, undefined);
 * ```
 */
export const Method = {
  initialize: "initialize",
  environmentInfo: "environment/info",
  environmentStatus: "environment/status",
  environmentConfigRead: "environmentConfig/read",
  processStart: "process/start",
  processRead: "process/read",
  processWrite: "process/write",
  processSignal: "process/signal",
  processResize: "process/resize",
  processCloseStdin: "process/closeStdin",
  processTerminate: "process/terminate",
  fsReadFile: "fs/readFile",
  fsWriteFile: "fs/writeFile",
  fsCreateDirectory: "fs/createDirectory",
  fsGetMetadata: "fs/getMetadata",
  fsCanonicalize: "fs/canonicalize",
  fsReadDirectory: "fs/readDirectory",
  fsWalk: "fs/walk",
  fsRemove: "fs/remove",
  fsCopy: "fs/copy",
  fsOpen: "fs/open",
  fsReadBlock: "fs/readBlock",
  fsWriteBlock: "fs/writeBlock",
  fsWatchMissing: "fs/watchMissing",
  fsClose: "fs/close",
  httpRequest: "http/request",
  capabilitiesDiscoverV2: "capabilities/discoverV2",
  capabilityRootsDiscoverV1: "capabilityRoots/discoverV1",
} as const;

/** A request method's wire name. */
export type MethodName = typeof Method[keyof typeof Method];

/**
 * Notifications: `initialized` goes client → server, the rest server → client.
 *
 * @example
 * ```ts
 * declare const message: { method: string; params: unknown };
 * if (message.method === Notification.processOutput) console.log(message.params);
 * ```
 */
export const Notification = {
  initialized: "initialized",
  processOutput: "process/output",
  processExited: "process/exited",
  processClosed: "process/closed",
  httpBodyDelta: "http/request/bodyDelta",
  fsMissingChanged: "fs/missingChanged",
} as const;

/** A notification's wire name. */
export type NotificationName = typeof Notification[keyof typeof Notification];
