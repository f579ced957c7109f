/**
 * Client library for exec-servers: {@linkcode ExecServerClient} over a websocket URL (bearer
 * token optional), a stdio command, or a rendezvous harness URL. Process output is delivered in
 * seq order, exactly once, and survives a dropped connection (reconnect, `resumeSessionId`,
 * replay through `process/read`); calls made meanwhile wait. Errors are typed classes with a
 * stable `code`: {@linkcode ConnectError}, {@linkcode RemoteCallError},
 * {@linkcode DisconnectedError}, {@linkcode ProcessFailedError}, {@linkcode FileTooLargeError}.
 *
 * @example
 * ```ts
 * import { ExecServerClient, stdioConnector } from "./mod.ts";
 *
 * await using client = await ExecServerClient.connect("ws://127.0.0.1:4000", {
 *   token: Deno.env.get("CODEX_EXEC_SERVER_TOKEN"),
 * });
 * const proc = await client.start(["sh", "-c", "echo out; echo err >&2; exit 7"]);
 * for await (const chunk of proc) {
 *   await (chunk.stream === "stderr" ? Deno.stderr : Deno.stdout).write(chunk.data);
 * }
 * console.log("exit", await proc.wait()); // exit 7
 *
 * // Or spawn a server on stdio:
 * await using local = await ExecServerClient.connect(
 *   stdioConnector(["codex-exec-server", "serve", "--listen", "stdio"]),
 * );
 * await local.readFileStream("/etc/hosts").pipeTo(Deno.stdout.writable);
 * ```
 * @module
 */
export {
  type ClientState,
  type ConnectOptions,
  DEFAULT_INITIALIZE_TIMEOUT_MS,
  DEFAULT_RECOVERY_RETRY_MS,
  DEFAULT_RECOVERY_TIMEOUT_MS,
  type DirectoryEntry,
  type EnvironmentInfo,
  ExecServerClient,
  type FileMetadata,
  MAX_WRITE_FILE_BYTES,
  type RecoveryStats,
  remoteUri,
  type StartOptions,
} from "./client.ts";
export {
  type Connector,
  DEFAULT_CONNECT_TIMEOUT_MS,
  harnessConnector,
  type HarnessConnectorOptions,
  type OpenOptions,
  registryConnector,
  type RegistryConnectorOptions,
  stdioConnector,
  type StdioConnectorOptions,
  websocketConnector,
  type WebSocketConnectorOptions,
} from "./connector.ts";
export {
  environmentConnector,
  type EnvironmentConnectorOptions,
  NOISE_AUTH_TOKEN_ENV,
} from "./environment_connector.ts";
export {
  ConnectError,
  type ConnectErrorCode,
  DisconnectedError,
  type DisconnectedErrorCode,
  FileTooLargeError,
  ProcessFailedError,
  type ProcessFailedErrorCode,
  RemoteCallError,
} from "./errors.ts";
export {
  ExecProcess,
  type OutputChunk,
  type ProcessHost,
  type ProcessSignal,
  type WriteStatus,
} from "./process.ts";
export { MAX_READ_BLOCK, readFileStream, type ReadFileStreamOptions } from "./file_stream.ts";
export {
  MAX_WRITE_BLOCK,
  writeFileStream,
  type WriteFileStreamOptions,
} from "./file_write_stream.ts";
export { type ProcessEvent } from "./_sequencer.ts";
export type { HybridKeyPair, HybridPublicKey } from "../noise/mod.ts";
