/**
 * Filesystem methods (`fs/*`, spec §3.3) and the helpers they share: `file:` URI paths, the
 * I/O error mapping, the sandbox refusal and per-connection block-read handles.
 *
 * @example
 * ```ts
 * import { fsMethods } from "./lib/fs/mod.ts";
 * const table = { ...fsMethods };
 * ```
 * @module
 */
export { pathFromUri, uriFromPath } from "./path_uri.ts";
export { FILE_HANDLES_RESOURCE, fileHandles, fsMethods } from "./methods.ts";
export {
  ioError,
  type IoErrorContext,
  isNotFound,
  mapIoErrors,
  osError,
  osErrorText,
} from "./io_error.ts";
export {
  rejectRestrictedSandbox,
  SANDBOX_UNAVAILABLE,
  type SandboxContext,
  sandboxSchema,
} from "./sandbox.ts";
export {
  type Block,
  FileHandleTable,
  MAX_BLOCK_LENGTH,
  MAX_HANDLE_ID_BYTES,
  MAX_OPEN_HANDLES,
} from "./handles.ts";
export {
  type FollowOptions,
  openRegularFile,
  READ_FILE_LIMIT,
  readFileBase64,
  readWholeFile,
  writeFileBase64,
} from "./read_write.ts";
export { canonicalize, type FileMetadata, getMetadata } from "./metadata.ts";
export {
  createDirectory,
  type CreateDirectoryOptions,
  type DirectoryEntry,
  readDirectory,
  type RemoveOptions,
  removePath,
} from "./directory.ts";
export { type CopyOptions, copyPath } from "./copy.ts";
export {
  walk,
  type WalkEntry,
  type WalkError,
  type WalkOptions,
  type WalkOutcome,
} from "./walk.ts";
export * from "./schemas.ts";
