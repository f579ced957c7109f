/**
 * The filesystem JSON-RPC methods (`fs/*`, family `filesystem`).
 * @module
 */
import { defineMethod, type MethodContext } from "../method/method.ts";
import { copyPath } from "./copy.ts";
import { createDirectory, readDirectory, removePath } from "./directory.ts";
import { FileHandleTable } from "./handles.ts";
import { canonicalize, getMetadata } from "./metadata.ts";
import { pathFromUri } from "../protocol/file_uri.ts";
import { readFileBase64, writeFileBase64 } from "./read_write.ts";
import { runSandboxed, sandboxedOpener } from "./sandboxed.ts";
import * as schema from "../protocol/fs.ts";
import { walk } from "./walk.ts";
import { MissingWatches } from "./watch_missing.ts";
import { Notification } from "../protocol/methods.ts";
import type { WatchMissingResult } from "../protocol/fs.ts";

const WATCH_MISSING_RESOURCE = "fs.watchMissing";

/**
 * Key of the per-connection {@linkcode FileHandleTable}.
 *
 * @example
 * ```ts
 * import type { MethodContext } from "../method/method.ts";
 * import { FileHandleTable } from "./handles.ts";
 * declare const ctx: MethodContext;
 * const table = ctx.connection.resource(FILE_HANDLES_RESOURCE, () => new FileHandleTable());
 * ```
 */
export const FILE_HANDLES_RESOURCE = "fs.handles";

/**
 * The connection's file handle table, created on first use and disposed with the connection.
 *
 * @example
 * ```ts
 * import type { MethodContext } from "../method/method.ts";
 * declare const ctx: MethodContext;
 * await fileHandles(ctx).close("h1");
 * ```
 */
export function fileHandles(context: MethodContext): FileHandleTable {
  return context.connection.resource(FILE_HANDLES_RESOURCE, () => new FileHandleTable());
}

/**
 * The `fs/*` handlers by name; `lib/server/routes.ts` gives them their wire names.
 *
 * @example
 * ```ts
 * const spec = fsHandlers.readFile;
 * ```
 */
export const fsHandlers = {
  readFile: defineMethod({
    family: "filesystem",
    params: schema.readFileParams,
    handle(params) {
      return runSandboxed(
        "fs/readFile",
        params,
        () => readFileBase64(pathFromUri(params.path), params),
      );
    },
  }),
  writeFile: defineMethod({
    family: "filesystem",
    params: schema.writeFileParams,
    handle(params) {
      return runSandboxed(
        "fs/writeFile",
        params,
        () => writeFileBase64(pathFromUri(params.path), params.dataBase64, params),
      );
    },
  }),
  createDirectory: defineMethod({
    family: "filesystem",
    params: schema.createDirectoryParams,
    handle(params) {
      return runSandboxed(
        "fs/createDirectory",
        params,
        () => createDirectory(pathFromUri(params.path), params),
      );
    },
  }),
  getMetadata: defineMethod({
    family: "filesystem",
    params: schema.getMetadataParams,
    handle(params) {
      return runSandboxed(
        "fs/getMetadata",
        params,
        () => getMetadata(pathFromUri(params.path), params),
      );
    },
  }),
  canonicalize: defineMethod({
    family: "filesystem",
    params: schema.canonicalizeParams,
    handle(params) {
      return runSandboxed("fs/canonicalize", params, () => canonicalize(pathFromUri(params.path)));
    },
  }),
  readDirectory: defineMethod({
    family: "filesystem",
    params: schema.readDirectoryParams,
    handle(params) {
      return runSandboxed(
        "fs/readDirectory",
        params,
        () => readDirectory(pathFromUri(params.path)),
      );
    },
  }),
  walk: defineMethod({
    family: "filesystem",
    params: schema.walkParams,
    handle(params) {
      return runSandboxed("fs/walk", params, () => walk(pathFromUri(params.path), params.options));
    },
  }),
  remove: defineMethod({
    family: "filesystem",
    params: schema.removeParams,
    handle(params) {
      return runSandboxed("fs/remove", params, () => removePath(pathFromUri(params.path), params));
    },
  }),
  copy: defineMethod({
    family: "filesystem",
    params: schema.copyParams,
    handle(params) {
      return runSandboxed("fs/copy", params, () => {
        const source = pathFromUri(params.sourcePath);
        const destination = pathFromUri(params.destinationPath);
        return copyPath(source, destination, params);
      });
    },
  }),
  open: defineMethod({
    family: "filesystem",
    params: schema.openParams,
    async handle(params, context) {
      const path = pathFromUri(params.path);
      const opener = sandboxedOpener(params);
      await fileHandles(context).open(params.handleId, path, { ...params, opener });
      return { handleId: params.handleId };
    },
  }),
  readBlock: defineMethod({
    family: "filesystem",
    params: schema.readBlockParams,
    handle(params, context) {
      return fileHandles(context).readBlock(params.handleId, params);
    },
  }),
  writeBlock: defineMethod({
    family: "filesystem",
    params: schema.writeBlockParams,
    handle(params, context) {
      return fileHandles(context).writeBase64Block(params.handleId, params).then(() => ({}));
    },
  }),
  watchMissing: defineMethod({
    family: "filesystem",
    params: schema.watchMissingParams,
    async handle(params, context) {
      const missing = params.missing.map(pathFromUri);
      const present = params.present == null ? null : pathFromUri(params.present);
      const watches = context.connection.resource(
        WATCH_MISSING_RESOURCE,
        () =>
          new MissingWatches((watchId) => {
            context.connection.notify(Notification.fsMissingChanged, { watchId }).catch(() => {});
          }),
      );
      const watching = await watches.watch({ watchId: params.watchId, missing, present });
      return { watching } satisfies WatchMissingResult;
    },
  }),
  close: defineMethod({
    family: "filesystem",
    lane: "control",
    params: schema.closeParams,
    async handle(params, context) {
      await fileHandles(context).close(params.handleId);
      return {};
    },
  }),
};
