/**
 * Params schemas of the filesystem methods (spec §3.3), the single source of their TS types.
 * Paths are strings here and decoded by the handlers with `pathFromUri`, so a bad URI gets the
 * upstream error code instead of a generic schema failure.
 * @module
 */
import { z } from "zod";
import { sandboxSchema } from "./sandbox.ts";

const path = z.string();
const optionalBool = z.boolean().nullish();
const unsigned = z.number().int().min(0);

/** `fs/readFile` params. */
export const readFileParams = z.object({
  path,
  followSymlinks: optionalBool,
  sandbox: sandboxSchema,
});

/** `fs/writeFile` params. */
export const writeFileParams = z.object({
  path,
  dataBase64: z.string(),
  followSymlinks: optionalBool,
  sandbox: sandboxSchema,
});

/** `fs/createDirectory` params (`recursive` defaults to true). */
export const createDirectoryParams = z.object({
  path,
  recursive: optionalBool,
  followSymlinks: optionalBool,
  sandbox: sandboxSchema,
});

/** `fs/getMetadata` params. */
export const getMetadataParams = z.object({
  path,
  followSymlinks: optionalBool,
  sandbox: sandboxSchema,
});

/** `fs/canonicalize` params. */
export const canonicalizeParams = z.object({ path, sandbox: sandboxSchema });

/** `fs/readDirectory` params. */
export const readDirectoryParams = z.object({ path, sandbox: sandboxSchema });

/** `fs/walk` params. */
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

/** `fs/remove` params (`recursive` and `force` default to true). */
export const removeParams = z.object({
  path,
  recursive: optionalBool,
  force: optionalBool,
  followSymlinks: optionalBool,
  sandbox: sandboxSchema,
});

/** `fs/copy` params (`recursive` is required). */
export const copyParams = z.object({
  sourcePath: path,
  destinationPath: path,
  recursive: z.boolean(),
  sandbox: sandboxSchema,
});

/** `fs/open` params. */
export const openParams = z.object({
  handleId: z.string(),
  path,
  followSymlinks: optionalBool,
  sandbox: sandboxSchema,
});

/** `fs/readBlock` params. */
export const readBlockParams = z.object({
  handleId: z.string(),
  offset: unsigned,
  len: unsigned,
});

/** `fs/close` params. */
export const closeParams = z.object({ handleId: z.string() });
