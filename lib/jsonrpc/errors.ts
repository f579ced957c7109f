/** JSON-RPC error codes used on the exec-server wire (spec §1.5). */
export const ErrorCode = {
  /** Client-side only: the transport closed under a pending call. */
  TransportClosed: -32000,
  /** Filesystem `NotFound`. */
  NotFound: -32004,
  /** Resume of a session that is still attached (retryable). */
  SessionAttached: -32010,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  Internal: -32603,
} as const;

/**
 * An error that is answered to the peer as a JSON-RPC error object.
 *
 * @example
 * ```ts
 * throw new RpcError(ErrorCode.InvalidParams, "argv must not be empty");
 * ```
 */
export class RpcError extends Error {
  /** The JSON-RPC error code sent on the wire. */
  readonly code: number;
  constructor(code: number, message: string) {
    super(message);
    this.name = "RpcError";
    this.code = code;
  }
}

/**
 * Shorthand for a -32600 invalid-request error.
 *
 * @example
 * ```ts
 * throw invalidRequest("unknown process id p1");
 * ```
 */
export function invalidRequest(message: string): RpcError {
  return new RpcError(ErrorCode.InvalidRequest, message);
}

/**
 * Shorthand for a -32602 invalid-params error.
 *
 * @example
 * ```ts
 * throw invalidParams("writeId must not be empty");
 * ```
 */
export function invalidParams(message: string): RpcError {
  return new RpcError(ErrorCode.InvalidParams, message);
}

/**
 * Shorthand for a -32603 internal error.
 *
 * @example
 * ```ts
 * throw internalError("failed to write to process stdin");
 * ```
 */
export function internalError(message: string): RpcError {
  return new RpcError(ErrorCode.Internal, message);
}
