/**
 * The process that performs sandboxed `fs/*` calls. The server starts it inside the request's
 * sandbox (bwrap with the same mounts a confined command gets, see lib/sandbox) and sends it
 * JSON lines `{method, params}`; it answers `{result}` or `{error: {code, message}}` per line,
 * running the very same implementation as unsandboxed calls. What it may touch is decided by the
 * kernel: a write outside the writable roots fails with EROFS like any confined program's.
 * @module
 */
import { ErrorCode, RpcError } from "../jsonrpc/errors.ts";
import { copyPath } from "./copy.ts";
import { createDirectory, readDirectory, removePath } from "./directory.ts";
import { canonicalize, getMetadata } from "./metadata.ts";
import { pathFromUri } from "../protocol/file_uri.ts";
import { openRegularFile, readFileBase64, writeFileBase64 } from "./read_write.ts";
import { walk } from "./walk.ts";

// deno-lint-ignore no-explicit-any
type Params = any;

const held: unknown[] = [];

/** The operations the helper performs, by wire method name. */
export const HELPER_OPERATIONS: Record<string, (params: Params) => Promise<unknown>> = {
  "fs/readFile": (p) => readFileBase64(pathFromUri(p.path), p),
  "fs/writeFile": (p) => writeFileBase64(pathFromUri(p.path), p.dataBase64, p),
  "fs/createDirectory": (p) => createDirectory(pathFromUri(p.path), p),
  "fs/getMetadata": (p) => getMetadata(pathFromUri(p.path), p),
  "fs/canonicalize": (p) => canonicalize(pathFromUri(p.path)),
  "fs/readDirectory": (p) => readDirectory(pathFromUri(p.path)),
  "fs/walk": (p) => walk(pathFromUri(p.path), p.options),
  "fs/remove": (p) => removePath(pathFromUri(p.path), p),
  "fs/copy": (p) => copyPath(pathFromUri(p.sourcePath), pathFromUri(p.destinationPath), p),
  // The descriptor stays open until the helper exits; the server reopens it through
  // /proc/<helper>/fd/<fd> (same open file, checked here by the kernel) before closing us.
  "fs/open": async (p) => {
    const file = await openRegularFile(pathFromUri(p.path), p);
    held.push(file); // a collected FileHandle would close the descriptor under the server
    return { fd: file.fd };
  },
};

/**
 * Answers one request line.
 *
 * @example
 * ```ts
 * await answer('{"method":"fs/canonicalize","params":{"path":"file:///"}}');
 * // '{"result":{"path":"file:///"}}'
 * ```
 */
export async function answer(line: string): Promise<string> {
  try {
    const { method, params } = JSON.parse(line) as { method: string; params: Params };
    const operation = HELPER_OPERATIONS[method];
    if (!operation) throw new RpcError(ErrorCode.MethodNotFound, `unknown method ${method}`);
    return JSON.stringify({ result: await operation(params) });
  } catch (err) {
    const code = err instanceof RpcError ? err.code : ErrorCode.Internal;
    return JSON.stringify({ error: { code, message: (err as Error).message } });
  }
}

/**
 * Serves request lines from stdin until EOF.
 *
 * @example
 * ```ts
 * await serveHelper(); // in the helper process only
 * ```
 */
export async function serveHelper(): Promise<void> {
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  let buffered = "";
  for await (const chunk of Deno.stdin.readable) {
    buffered += decoder.decode(chunk, { stream: true });
    let newline: number;
    while ((newline = buffered.indexOf("\n")) !== -1) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      await writeAll(encoder.encode((await answer(line)) + "\n"));
    }
  }
}

async function writeAll(bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) offset += await Deno.stdout.write(bytes.subarray(offset));
}
