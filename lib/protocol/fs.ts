/**
 * The filesystem methods' wire surface (spec §3.3): params schemas (the single source of their TS
 * types) and results.
 * Paths are strings here and decoded by the handlers with `pathFromUri`, so a bad URI gets the
 * upstream error code instead of a generic schema failure.
 * @module
 */
import { z } from "zod";
import { sandboxSchema } from "./sandbox.ts";

const path = z.string();
const optionalBool = z.boolean().nullish();
const unsigned = z.number().int().min(0);

/**
 * `fs/readFile` params.
 *
 * @example
 * ```ts
 * const params = readFileParams.parse({ path: "file:///tmp/a.txt" });
 * ```
 */
export const readFileParams = z.object({
  path,
  followSymlinks: optionalBool,
  sandbox: sandboxSchema,
});

/**
 * `fs/writeFile` params.
 *
 * @example
 * ```ts
 * const params = writeFileParams.parse({ path: "file:///tmp/a.txt", dataBase64: "aGk=" });
 * ```
 */
export const writeFileParams = z.object({
  path,
  dataBase64: z.string(),
  followSymlinks: optionalBool,
  sandbox: sandboxSchema,
});

/**
 * `fs/createDirectory` params (`recursive` defaults to true).
 *
 * @example
 * ```ts
 * const params = createDirectoryParams.parse({ path: "file:///tmp/a/b", recursive: true });
 * ```
 */
export const createDirectoryParams = z.object({
  path,
  recursive: optionalBool,
  followSymlinks: optionalBool,
  sandbox: sandboxSchema,
});

/**
 * `fs/getMetadata` params.
 *
 * @example
 * ```ts
 * const params = getMetadataParams.parse({ path: "file:///tmp/a.txt" });
 * ```
 */
export const getMetadataParams = z.object({
  path,
  followSymlinks: optionalBool,
  sandbox: sandboxSchema,
});

/**
 * `fs/canonicalize` params.
 *
 * @example
 * ```ts
 * const params = canonicalizeParams.parse({ path: "file:///tmp/link" });
 * ```
 */
export const canonicalizeParams = z.object({ path, sandbox: sandboxSchema });

/**
 * `fs/readDirectory` params.
 *
 * @example
 * ```ts
 * const params = readDirectoryParams.parse({ path: "file:///tmp" });
 * ```
 */
export const readDirectoryParams = z.object({ path, sandbox: sandboxSchema });

/**
 * `fs/walk` params.
 *
 * @example
 * ```ts
 * const params = walkParams.parse({
 *   path: "file:///repo",
 *   options: { maxDepth: 2, maxDirectories: 10, maxEntries: 100, followDirectorySymlinks: false },
 * });
 * ```
 */
export const walkParams = z.object({
  path,
  options: z.object({
    maxDepth: unsigned,
    maxDirectories: unsigned,
    maxEntries: unsigned,
    followDirectorySymlinks: z.boolean(),
    pruneHiddenDirectories: optionalBool,
  }),
  sandbox: sandboxSchema,
});

/**
 * `fs/remove` params (`recursive` and `force` default to true).
 *
 * @example
 * ```ts
 * const params = removeParams.parse({ path: "file:///tmp/build", recursive: true, force: true });
 * ```
 */
export const removeParams = z.object({
  path,
  recursive: optionalBool,
  force: optionalBool,
  followSymlinks: optionalBool,
  sandbox: sandboxSchema,
});

/**
 * `fs/copy` params (`recursive` is required).
 *
 * @example
 * ```ts
 * const params = copyParams.parse({ sourcePath: "file:///tmp/a", destinationPath: "file:///tmp/b", recursive: true });
 * ```
 */
export const copyParams = z.object({
  sourcePath: path,
  destinationPath: path,
  recursive: z.boolean(),
  sandbox: sandboxSchema,
});

/**
 * `fs/open` params.
 *
 * @example
 * ```ts
 * const params = openParams.parse({ handleId: "h1", path: "file:///tmp/big.bin" });
 * ```
 */
export const openParams = z.object({
  handleId: z.string(),
  path,
  /** Absent = `read`; upstream rejects null and unknown names. */
  mode: z.enum(["read", "replace"]).optional(),
  followSymlinks: optionalBool,
  sandbox: sandboxSchema,
});

/**
 * `fs/readBlock` params.
 *
 * @example
 * ```ts
 * const params = readBlockParams.parse({ handleId: "h1", offset: 0, len: 1048576 });
 * ```
 */
export const readBlockParams = z.object({
  handleId: z.string(),
  offset: unsigned,
  len: unsigned,
});

/**
 * `fs/writeBlock` params (`chunk` is base64, decoded by the handler for upstream's error text).
 *
 * @example
 * ```ts
 * const params = writeBlockParams.parse({ handleId: "h1", offset: 0, chunk: "aGk=" });
 * ```
 */
export const writeBlockParams = z.object({
  handleId: z.string(),
  offset: unsigned,
  chunk: z.string(),
});

/**
 * `fs/close` params.
 *
 * @example
 * ```ts
 * const params = closeParams.parse({ handleId: "h1" });
 * ```
 */
export const closeParams = z.object({ handleId: z.string() });

/** The `fs/getMetadata` result. */
export interface FileMetadata {
  isDirectory: boolean;
  isFile: boolean;
  isSymlink: boolean;
  size: number;
  createdAtMs: number;
  modifiedAtMs: number;
}

/** One `fs/readDirectory` entry. */
export interface DirectoryEntry {
  fileName: string;
  isDirectory: boolean;
  isFile: boolean;
}

/**
 * `fs/watchMissing` params (capability `fsWatchMissing`): `missing` paths expected not to exist,
 * an optional `present` path expected to exist.
 *
 * @example
 * ```ts
 * const params = watchMissingParams.parse({ watchId: 1, missing: ["file:///repo/.git"], present: null });
 * ```
 */
export const watchMissingParams = z.object({
  watchId: unsigned,
  missing: z.array(path),
  present: path.nullish(),
});

/** The `fs/watchMissing` result. */
export interface WatchMissingResult {
  watching: boolean;
}

/** The `fs/missingChanged` notification: the watch `watchId` saw a change and has ended. */
export interface MissingChangedNotification {
  watchId: number;
}
