/**
 * Filesystem handlers (`fs/*`, spec §3.3) and the helpers they share: the
 * I/O error mapping, sandboxed execution and per-connection block-read handles.
 *
 * @example
 * ```ts
 * import { fsHandlers } from "./mod.ts";
 * const spec = fsHandlers.readFile;
 * ```
 * @module
 */
export { FILE_HANDLES_RESOURCE, fileHandles, fsHandlers } from "./methods.ts";
export {
  ioError,
  type IoErrorContext,
  isNotFound,
  mapIoErrors,
  osError,
  osErrorText,
} from "./io_error.ts";
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
export { canonicalize, getMetadata } from "./metadata.ts";
export {
  createDirectory,
  type CreateDirectoryOptions,
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
