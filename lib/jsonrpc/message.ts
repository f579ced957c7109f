/**
 * The exec-server JSON-RPC dialect (spec §1): JSON-RPC 2.0 without the `jsonrpc` member.
 * Parsing classifies a text into one of four shapes; encoding writes members in upstream's order.
 * @module
 */

/** A request id: a string or a signed 64-bit integer, echoed with its JSON type. */
export type RequestId = string | number;

/** A client request. */
export interface RequestMessage {
  kind: "request";
  id: RequestId;
  method: string;
  params: unknown;
}
/** A notification (no id). */
export interface NotificationMessage {
  kind: "notification";
  method: string;
  params: unknown;
}
/** A successful response. */
export interface ResponseMessage {
  kind: "response";
  id: RequestId;
  result: unknown;
}
/** An error response. */
export interface ErrorMessage {
  kind: "error";
  id: RequestId;
  error: { code: number; message: string; data?: unknown };
}
/** Any well-formed message. */
export type Message = RequestMessage | NotificationMessage | ResponseMessage | ErrorMessage;

/** Why a text is not a message; `detail` reads like serde's error text. */
export interface MalformedMessage {
  kind: "malformed";
  detail: string;
}

const I64_LIMIT = 2n ** 63n;

function isRequestId(value: unknown): value is RequestId {
  if (typeof value === "string") return true;
  if (typeof value !== "number") return false;
  // Safe integers are in range; only larger ones need the exact i64 check.
  return Number.isSafeInteger(value) ||
    (Number.isInteger(value) && BigInt(value) < I64_LIMIT && BigInt(value) >= -I64_LIMIT);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Parses one JSON text into a message, trying Request, Notification, Response, Error in order.
 *
 * @example
 * ```ts
 * parseMessage('{"id":1,"method":"initialize","params":{}}'); // { kind: "request", ... }
 * ```
 */
export function parseMessage(text: string): Message | MalformedMessage {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { kind: "malformed", detail: (err as Error).message };
  }
  if (!isObject(value)) {
    return {
      kind: "malformed",
      detail: "data did not match any variant of untagged enum JSONRPCMessage",
    };
  }
  const hasId = "id" in value;
  if (typeof value.method === "string") {
    if (hasId && isRequestId(value.id)) {
      return { kind: "request", id: value.id, method: value.method, params: value.params };
    }
    if (!hasId) return { kind: "notification", method: value.method, params: value.params };
  }
  if (hasId && isRequestId(value.id)) {
    if ("result" in value) return { kind: "response", id: value.id, result: value.result };
    const error = value.error;
    if (isObject(error) && Number.isInteger(error.code) && typeof error.message === "string") {
      return {
        kind: "error",
        id: value.id,
        error: { code: error.code as number, message: error.message, data: error.data },
      };
    }
  }
  return {
    kind: "malformed",
    detail: "data did not match any variant of untagged enum JSONRPCMessage",
  };
}

/**
 * Encodes a response: `{"id":…,"result":…}`.
 *
 * @example
 * ```ts
 * encodeResponse(1, { status: "ready" }); // '{"id":1,"result":{"status":"ready"}}'
 * ```
 */
export function encodeResponse(id: RequestId, result: unknown): string {
  return `{"id":${JSON.stringify(id)},"result":${JSON.stringify(result ?? null)}}`;
}

/**
 * Encodes an error: `{"error":{"code":…,"message":…},"id":…}`.
 *
 * @example
 * ```ts
 * encodeError(-1, { code: -32600, message: "bad" });
 * ```
 */
export function encodeError(id: RequestId, error: { code: number; message: string }): string {
  return `{"error":{"code":${error.code},"message":${JSON.stringify(error.message)}},"id":${
    JSON.stringify(id)
  }}`;
}

/**
 * Params that are already JSON text. Hot paths (process output: kilobytes of base64 that need no
 * escaping) build their text directly instead of paying `JSON.stringify`'s scan.
 *
 * @example
 * ```ts
 * encodeNotification("process/closed", new JsonText('{"processId":"p","seq":4}'));
 * ```
 */
export class JsonText {
  constructor(readonly text: string) {}
}

/**
 * Encodes a notification: `{"method":…,"params":…}`.
 *
 * @example
 * ```ts
 * encodeNotification("initialized", {});
 * ```
 */
export function encodeNotification(method: string, params: unknown): string {
  if (params instanceof JsonText) {
    return `{"method":${JSON.stringify(method)},"params":${params.text}}`;
  }
  return params === undefined
    ? `{"method":${JSON.stringify(method)}}`
    : `{"method":${JSON.stringify(method)},"params":${JSON.stringify(params)}}`;
}

/**
 * Encodes a request: `{"id":…,"method":…,"params":…}`.
 *
 * @example
 * ```ts
 * encodeRequest(1, "environment/status", undefined);
 * ```
 */
export function encodeRequest(id: RequestId, method: string, params: unknown): string {
  const head = `{"id":${JSON.stringify(id)},"method":${JSON.stringify(method)}`;
  return params === undefined ? `${head}}` : `${head},"params":${JSON.stringify(params)}}`;
}
