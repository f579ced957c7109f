/**
 * Error classes of the client library, one per failure family, each with a stable `code` that
 * programs (and the CLI) branch on instead of parsing messages.
 * @module
 */

/**
 * Why a connection could not be established.
 *
 * @example
 * ```ts
 * const retry = (code: ConnectErrorCode) => code === "unreachable" || code === "timeout";
 * ```
 */
export type ConnectErrorCode =
  | "unreachable"
  | "timeout"
  | "auth_refused"
  | "rejected"
  | "handshake_failed"
  | "spawn_failed";

/**
 * The server could not be reached, refused us, or did not complete the `initialize` handshake.
 *
 * @example
 * ```ts
 * import { ConnectError, ExecServerClient } from "./mod.ts";
 * try {
 *   await ExecServerClient.connect("ws://127.0.0.1:1");
 * } catch (err) {
 *   if (err instanceof ConnectError && err.code === "unreachable") console.error(err.message);
 * }
 * ```
 */
export class ConnectError extends Error {
  /** Stable failure code. */
  readonly code: ConnectErrorCode;
  /** The URL or command we tried, for messages (never carries a token). */
  readonly target: string;
  constructor(code: ConnectErrorCode, target: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ConnectError";
    this.code = code;
    this.target = target;
  }
}

/**
 * The server answered a call with a JSON-RPC error.
 *
 * @example
 * ```ts
 * import { RemoteCallError } from "./mod.ts";
 * const err = new RemoteCallError("fs/getMetadata", -32004, "No such file or directory (os error 2)");
 * err.notFound; // true
 * ```
 */
export class RemoteCallError extends Error {
  /** Stable failure code (always `remote_error`); see `rpcCode` for the wire code. */
  readonly code = "remote_error";
  /** The JSON-RPC error code, e.g. -32004 (not found) or -32600 (invalid request). */
  readonly rpcCode: number;
  /** The method that failed. */
  readonly method: string;
  constructor(method: string, rpcCode: number, message: string) {
    super(message);
    this.name = "RemoteCallError";
    this.method = method;
    this.rpcCode = rpcCode;
  }
  /** Whether the server reported a missing path (-32004). */
  get notFound(): boolean {
    return this.rpcCode === -32004;
  }
}

/**
 * Why calls cannot go through any more.
 *
 * @example
 * ```ts
 * const code: DisconnectedErrorCode = "recovery_failed";
 * ```
 */
export type DisconnectedErrorCode =
  | "transport_closed"
  | "recovery_failed"
  | "client_closed"
  | "server_shutdown";

/**
 * The connection is gone: closed by us, lost without a way back (stdio), or recovery gave up.
 *
 * @example
 * ```ts
 * import { DisconnectedError } from "./mod.ts";
 * const err = new DisconnectedError("client_closed", "the client was closed");
 * err.code; // "client_closed"
 * ```
 */
export class DisconnectedError extends Error {
  /** Stable failure code. */
  readonly code: DisconnectedErrorCode;
  constructor(code: DisconnectedErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "DisconnectedError";
    this.code = code;
  }
}

/**
 * Why a process's event stream was cut.
 *
 * @example
 * ```ts
 * const code: ProcessFailedErrorCode = "events_evicted";
 * ```
 */
export type ProcessFailedErrorCode = "events_evicted" | "lost" | "disconnected";

/**
 * A remote process's events can no longer be delivered completely: output was evicted from the
 * server's buffer while we were disconnected, the server forgot the process, or the connection
 * was lost for good.
 *
 * @example
 * ```ts
 * import { ProcessFailedError } from "./mod.ts";
 * const err = new ProcessFailedError("events_evicted", "p1", "output was lost");
 * err.processId; // "p1"
 * ```
 */
export class ProcessFailedError extends Error {
  /** Stable failure code. */
  readonly code: ProcessFailedErrorCode;
  /** The process concerned. */
  readonly processId: string;
  constructor(
    code: ProcessFailedErrorCode,
    processId: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "ProcessFailedError";
    this.code = code;
    this.processId = processId;
  }
}

/**
 * A file is over what one `fs/writeFile` message can carry (the protocol has no streaming
 * write).
 *
 * @example
 * ```ts
 * import { FileTooLargeError } from "./mod.ts";
 * const err = new FileTooLargeError(100 * 2 ** 20, 48 * 2 ** 20);
 * err.code; // "file_too_large"
 * ```
 */
export class FileTooLargeError extends Error {
  /** Stable failure code. */
  readonly code = "file_too_large";
  readonly size: number;
  readonly limit: number;
  constructor(size: number, limit: number) {
    super(
      `file is ${size} bytes; fs/writeFile carries a whole file in one JSON-RPC message, which ` +
        `limits writes to ${limit} bytes`,
    );
    this.name = "FileTooLargeError";
    this.size = size;
    this.limit = limit;
  }
}
