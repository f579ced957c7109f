/**
 * Whole-file reads and writes (`fs/readFile`, `fs/writeFile`) and the non-blocking open that
 * `fs/open` shares.
 * @module
 */
import { MAX_MESSAGE_BYTES } from "../transport/types.ts";
import { constants } from "node:fs";
import fsp from "node:fs/promises";
import { invalidRequest } from "../jsonrpc/errors.ts";
import { Base64Error, decodeBase64, encodeBase64 } from "../util/base64.ts";
import { ioError } from "./io_error.ts";
import { heldIoError, holdParentNoFollow } from "./_held_directory.ts";

/**
 * Files above this size (47.9 MiB) are refused by `fs/readFile` with upstream's error text: the
 * file's base64 in one JSON-RPC result must fit the 64 MiB transport limit (upstream's limit,
 * 512 MiB, answers messages up to 683 MiB that no 64 MiB client can receive, and building such a
 * string aborted V8). Read bigger files with `fs/open` + `fs/readBlock`.
 *
 * @example
 * ```ts
 * declare const path: string;
 * if ((await Deno.stat(path)).size > READ_FILE_LIMIT) console.log("use fs/open instead");
 * ```
 */
export const READ_FILE_LIMIT = Math.floor((MAX_MESSAGE_BYTES - 64 * 1024) / 4) * 3;

/** Options shared by the path-based file operations. */
export interface FollowOptions {
  /** `false` refuses symlinks in the path instead of following them (default: follow). */
  followSymlinks?: boolean | null;
}

/**
 * How `fs/open` opens: `read` (default) or `replace` (create or truncate, write-only).
 *
 * @example
 * ```ts
 * const mode: OpenMode = "replace";
 * ```
 */
export type OpenMode = "read" | "replace";

/**
 * Opens `path` read-only (or, with `mode: "replace"`, write-only, created or truncated) and checks it is a regular file. The open uses `O_NONBLOCK` so that a
 * FIFO (or a path swapped for one after a check) is rejected at once instead of blocking until a
 * writer appears; the type check is done on the opened descriptor, so it cannot race.
 *
 * @example
 * ```ts
 * const file = await openRegularFile("/tmp/data.bin");
 * await file.close();
 * ```
 */
export async function openRegularFile(
  path: string,
  options: FollowOptions & { mode?: OpenMode } = {},
): Promise<fsp.FileHandle> {
  // "replace" truncates at open, as upstream does (the file is not swapped in at close).
  const flags = options.mode === "replace"
    ? constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NONBLOCK
    : constants.O_RDONLY | constants.O_NONBLOCK;
  const file = await openNoFollowAware(path, flags, options);
  try {
    const info = await file.stat();
    if (!info.isFile()) throw invalidRequest(`path \`${path}\` is not a file`);
    return file;
  } catch (err) {
    await file.close();
    throw ioError(err, { operation: "fstat", path });
  }
}

/**
 * Reads a whole regular file, refusing files over {@linkcode READ_FILE_LIMIT} before reading
 * anything (and again if the file grows while being read).
 *
 * @example
 * ```ts
 * const bytes = await readWholeFile("/tmp/note.txt");
 * ```
 */
export async function readWholeFile(
  path: string,
  options: FollowOptions = {},
): Promise<Uint8Array> {
  const file = await openRegularFile(path, options);
  try {
    const { size } = await file.stat();
    if (size > READ_FILE_LIMIT) throw tooLarge();
    // One spare byte tells us whether the file grew past what stat reported.
    let buffer = new Uint8Array(Math.max(size, 0) + 1);
    let filled = 0;
    while (true) {
      if (filled === buffer.length) {
        if (buffer.length > READ_FILE_LIMIT) throw tooLarge();
        const grown = new Uint8Array(Math.min(buffer.length * 2, READ_FILE_LIMIT + 1));
        grown.set(buffer);
        buffer = grown;
      }
      const { bytesRead } = await file.read(buffer, filled, buffer.length - filled, null);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    if (filled > READ_FILE_LIMIT) throw tooLarge();
    return buffer.subarray(0, filled);
  } catch (err) {
    throw ioError(err, { operation: "read", path });
  } finally {
    await file.close();
  }
}

// With followSymlinks: false the parent is walked and held without following any symlink and
// the file is opened inside it with O_NOFOLLOW, so no swap between check and open can win.
async function openNoFollowAware(
  path: string,
  flags: number,
  options: FollowOptions,
): Promise<fsp.FileHandle> {
  if (options.followSymlinks !== false) {
    try {
      return await fsp.open(path, flags, 0o666);
    } catch (err) {
      throw ioError(err, { operation: "open", path });
    }
  }
  using entry = holdParentNoFollow(path);
  try {
    return await fsp.open(entry.path, flags | constants.O_NOFOLLOW, 0o666);
  } catch (err) {
    throw heldIoError(err, { operation: "open", path });
  }
}

function tooLarge() {
  return invalidRequest(`file is too large to read: limit is ${READ_FILE_LIMIT} bytes`);
}

/**
 * `fs/readFile`: the file's bytes as base64.
 *
 * @example
 * ```ts
 * const { dataBase64 } = await readFileBase64("/tmp/note.txt");
 * ```
 */
export async function readFileBase64(
  path: string,
  options: FollowOptions = {},
): Promise<{ dataBase64: string }> {
  return { dataBase64: encodeBase64(await readWholeFile(path, options)) };
}

/**
 * `fs/writeFile`: creates or truncates `path` with the decoded bytes. The parent directory must
 * exist (missing parent → -32004); invalid base64 → -32600.
 *
 * @example
 * ```ts
 * await writeFileBase64("/tmp/note.txt", "aGVsbG8=");
 * ```
 */
export async function writeFileBase64(
  path: string,
  dataBase64: string,
  options: FollowOptions = {},
): Promise<Record<string, never>> {
  let bytes: Uint8Array;
  try {
    bytes = decodeBase64(dataBase64);
  } catch (err) {
    if (!(err instanceof Base64Error)) throw err;
    throw invalidRequest(`fs/writeFile requires valid base64 dataBase64: ${err.message}`);
  }
  // O_NONBLOCK: writing to a FIFO nobody reads fails (ENXIO) instead of hanging the request.
  const file = await openNoFollowAware(
    path,
    constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NONBLOCK,
    options,
  );
  try {
    let written = 0;
    while (written < bytes.length) {
      const { bytesWritten } = await file.write(bytes, written, bytes.length - written, null);
      written += bytesWritten;
    }
  } catch (err) {
    throw ioError(err, { operation: "write", path });
  } finally {
    await file.close();
  }
  return {};
}
