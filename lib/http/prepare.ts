/**
 * Validates `http/request` params into a request ready to send, with upstream's -32602 texts.
 * @module
 */
import { invalidParams } from "../jsonrpc/errors.ts";
import { Base64Error, decodeBase64 } from "../util/base64.ts";
import type { HttpRequestParams } from "../protocol/http.ts";

/** A validated outgoing request. */
export interface PreparedRequest {
  method: string;
  url: URL;
  /** `[name, value]` in the caller's order, repeated names kept. */
  headers: [string, string][];
  body?: Uint8Array;
  /** Whole-request deadline; undefined = none. */
  timeoutMs?: number;
  redirectPolicy: "follow" | "stop";
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// Visible ASCII, space and tab: what the Rust `http` crate accepts from a string.
const HEADER_VALUE = /^[\t\x20-\x7e]*$/;

/**
 * Checks method, URL, headers and body of `params`.
 *
 * @example
 * ```ts
 * import { httpRequestParams } from "../protocol/http.ts";
 * const request = prepareRequest(httpRequestParams.parse({
 *   method: "GET",
 *   url: "http://127.0.0.1:8080/",
 *   requestId: "r1",
 * }));
 * ```
 */
export function prepareRequest(params: HttpRequestParams): PreparedRequest {
  if (!TOKEN.test(params.method)) {
    throw invalidParams("http/request method is invalid: invalid HTTP method");
  }
  const url = parseUrl(params.url);
  const headers: [string, string][] = [];
  for (const header of params.headers) {
    if (!TOKEN.test(header.name)) {
      throw invalidParams("http/request header name is invalid: invalid HTTP header name");
    }
    // httpHeaderEnvVars: the secret lives in the executor's environment and is appended to the
    // caller's prefix (`"Bearer "` + token), so the client never holds it.
    let value = header.value;
    if (header.valueEnvVar != null) {
      const fromEnv = Deno.env.get(header.valueEnvVar);
      if (fromEnv === undefined) {
        throw invalidParams(
          `http/request header ${header.name} requires executor environment variable ` +
            header.valueEnvVar,
        );
      }
      value += fromEnv;
    }
    if (!HEADER_VALUE.test(value)) {
      throw invalidParams(
        `http/request header value is invalid for ${header.name}: failed to parse header value`,
      );
    }
    headers.push([header.name, value]);
  }
  let body: Uint8Array | undefined;
  if (params.bodyBase64 != null) {
    try {
      body = decodeBase64(params.bodyBase64);
    } catch (err) {
      if (!(err instanceof Base64Error)) throw err;
      throw invalidParams(`http/request bodyBase64 is invalid: ${err.message}`);
    }
  }
  return {
    method: params.method,
    url,
    headers,
    body,
    timeoutMs: params.timeoutMs ?? undefined,
    redirectPolicy: params.redirectPolicy,
  };
}

function parseUrl(text: string): URL {
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(text)?.[1]?.toLowerCase();
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    if (scheme === undefined) {
      throw invalidParams("http/request url is invalid: relative URL without a base");
    }
    if ((scheme === "http" || scheme === "https") && /^[^:]+:\/*(?:[?#]|$)/.test(text)) {
      throw invalidParams("http/request url is invalid: empty host");
    }
    throw invalidParams(`http/request url is invalid: cannot parse \`${text}\``);
  }
  const protocol = url.protocol.slice(0, -1);
  if (protocol !== "http" && protocol !== "https") {
    throw invalidParams(`http/request only supports http and https URLs, got ${protocol}`);
  }
  return url;
}
