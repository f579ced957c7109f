/**
 * Shared setup for fs/http integration tests: a real server, an initialized websocket client
 * and a temp directory, all released by `await using`.
 * @module
 */
import assert from "node:assert/strict";
import {
  type RpcCallError,
  type ServerHandle,
  startServer,
  type StartServerOptions,
  TestClient,
} from "../_harness.ts";

/** A started server with one initialized client and a scratch directory. */
export interface Session extends AsyncDisposable {
  server: ServerHandle;
  client: TestClient;
  dir: string;
  /** Opens another initialized client on the same server. */
  connect(): Promise<TestClient>;
}

/** Starts everything; dispose to stop the server and remove the directory. */
export async function openSession(options: StartServerOptions = {}): Promise<Session> {
  const server = await startServer(options);
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "fs_test_" }));
  const clients: TestClient[] = [];
  const connect = async () => {
    const client = await TestClient.connect(server.url);
    clients.push(client);
    await client.initialize();
    return client;
  };
  try {
    const client = await connect();
    return {
      server,
      client,
      dir,
      connect,
      async [Symbol.asyncDispose]() {
        for (const c of clients) await c.close().catch(() => {});
        await server.stop();
        await Deno.remove(dir, { recursive: true }).catch(() => {});
      },
    };
  } catch (err) {
    await server.stop();
    throw err;
  }
}

/** The `file:` URI of an absolute path, encoded like upstream (`%20` for spaces, …). */
export function uri(path: string): string {
  return new URL(`file://${path.split("/").map(encodeURIComponent).join("/")}`).href;
}

/** Asserts that `promise` rejects with a JSON-RPC error of `code` and exact `message`. */
export async function assertRpcError(
  promise: Promise<unknown>,
  code: number,
  message: string | RegExp,
): Promise<RpcCallError> {
  let error: unknown;
  try {
    await promise;
  } catch (err) {
    error = err;
  }
  assert(error !== undefined, `expected an error ${code} ${message}, got success`);
  const rpc = error as RpcCallError;
  assert.deepEqual(rpc.code, code, `wrong code for message: ${rpc.message}`);
  if (typeof message === "string") assert.deepEqual(rpc.message, message);
  else assert(message.test(rpc.message), `${rpc.message} does not match ${message}`);
  return rpc;
}

/** Base64 of text. */
export function b64(text: string | Uint8Array): string {
  const bytes = typeof text === "string" ? new TextEncoder().encode(text) : text;
  return bytes.toBase64();
}

/** Text (or bytes) of base64. */
export function unb64(data: string): string {
  return new TextDecoder().decode(Uint8Array.fromBase64(data));
}

/** Bytes of base64. */
export function unb64Bytes(data: string): Uint8Array {
  return Uint8Array.fromBase64(data);
}

/** Runs `mkfifo path`. */
export async function mkfifo(path: string): Promise<void> {
  const { success } = await new Deno.Command("mkfifo", { args: [path] }).output();
  assert(success, `mkfifo ${path} failed`);
}
