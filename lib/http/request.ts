/**
 * Runs a prepared `http/request`: redirects (follow or stop), deadline, cancellation.
 * @module
 */
import type { PreparedRequest } from "./prepare.ts";
import { sendOnce, type WireRequest, type WireResponse } from "./send.ts";

/**
 * Redirects followed before giving up, as upstream's client does.
 *
 * @example
 * ```ts
 * console.log(`following at most ${MAX_REDIRECTS} redirects`);
 * ```
 */
export const MAX_REDIRECTS = 10;

/**
 * A failure to obtain a response; `message` is the text after `http/request failed: `.
 *
 * @example
 * ```ts
 * throw new HttpSendError("error sending request for url (http://x/): refused");
 * ```
 */
export class HttpSendError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "HttpSendError";
  }
}

/** Options of {@linkcode performRequest}. */
export interface PerformOptions {
  /** Aborts the request and its body (e.g. when the connection ends). */
  signal: AbortSignal;
}

/** A response plus the way to release its deadline timer once the body is done. */
export interface PerformedResponse extends WireResponse {
  /** Why the body stopped early, once it has: the deadline or the caller's signal. */
  readonly signal: AbortSignal;
  /** Clears the deadline timer; call when the body has been consumed or dropped. */
  finish(): void;
}

/**
 * Sends `request`, following redirects unless `redirectPolicy` is `stop`. `timeoutMs` bounds
 * the whole exchange including the body, like upstream's client timeout.
 *
 * @example
 * ```ts
 * import type { PreparedRequest } from "./prepare.ts";
 * declare const connectionSignal: AbortSignal;
 * declare const prepared: PreparedRequest;
 * const response = await performRequest(prepared, { signal: connectionSignal });
 * try {
 *   console.log(response.status);
 *   await response.body.cancel();
 * } finally {
 *   response.finish();
 * }
 * ```
 */
export async function performRequest(
  request: PreparedRequest,
  options: PerformOptions,
): Promise<PerformedResponse> {
  const deadline = new AbortController();
  // A plain timer (not AbortSignal.timeout) so it can be cleared as soon as the body is done.
  const timer = request.timeoutMs === undefined ? undefined : setTimeout(() => {
    deadline.abort(new HttpSendError(`operation timed out after ${request.timeoutMs} ms`));
  }, request.timeoutMs);
  const finish = () => clearTimeout(timer);
  const signal = AbortSignal.any([options.signal, deadline.signal]);
  try {
    const response = await follow(request, signal);
    return { ...response, signal, finish };
  } catch (err) {
    finish();
    throw err;
  }
}

async function follow(request: PreparedRequest, signal: AbortSignal): Promise<WireResponse> {
  let current: WireRequest = {
    method: request.method,
    url: request.url,
    headers: request.headers,
    body: request.body,
  };
  for (let redirects = 0;; redirects++) {
    const response = await sendWithContext(current, signal);
    const location = response.headers.find(([name]) => name === "location")?.[1];
    if (
      request.redirectPolicy === "stop" || location === undefined ||
      ![301, 302, 303, 307, 308].includes(response.status)
    ) {
      return response;
    }
    await response.body.cancel().catch(() => {});
    if (redirects >= MAX_REDIRECTS) {
      throw new HttpSendError(
        `error following redirect for url (${current.url}): too many redirects`,
      );
    }
    current = redirectedRequest(current, response.status, location);
  }
}

function redirectedRequest(previous: WireRequest, status: number, location: string): WireRequest {
  let url: URL;
  try {
    url = new URL(location, previous.url);
  } catch {
    throw new HttpSendError(
      `error following redirect for url (${previous.url}): invalid location \`${location}\``,
    );
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new HttpSendError(
      `error following redirect for url (${previous.url}): unsupported scheme in \`${location}\``,
    );
  }
  let { method, body, headers } = previous;
  // 303 always, and 301/302 for POST, turn into a body-less GET (browser and reqwest rules).
  if (status === 303 ? method.toUpperCase() !== "HEAD" : status <= 302 && method === "POST") {
    method = "GET";
    body = undefined;
    headers = headers.filter(([name]) =>
      !["content-type", "content-length", "transfer-encoding"].includes(name.toLowerCase())
    );
  }
  // Credentials are not forwarded to another origin.
  if (url.origin !== previous.url.origin) {
    headers = headers.filter(([name]) =>
      !["authorization", "cookie", "proxy-authorization", "www-authenticate"].includes(
        name.toLowerCase(),
      )
    );
  }
  return { method, url, headers, body };
}

async function sendWithContext(request: WireRequest, signal: AbortSignal): Promise<WireResponse> {
  try {
    return await sendOnce(request, { signal });
  } catch (err) {
    const reason = describe(signal.aborted ? signal.reason : err);
    // Deno's fetch errors already start with this phrase; do not say it twice.
    const prefix = `error sending request for url (${request.url})`;
    throw new HttpSendError(reason.startsWith(prefix) ? reason : `${prefix}: ${reason}`, {
      cause: err,
    });
  }
}

/**
 * The most useful text of an error thrown by fetch, node:http or an abort.
 *
 * @example
 * ```ts
 * describeHttpError(new TypeError("fetch failed", { cause: new Error("refused") })); // "refused"
 * ```
 */
export function describeHttpError(err: unknown): string {
  return describe(err);
}

function describe(err: unknown): string {
  if (err instanceof HttpSendError) return err.message;
  if (err instanceof Error) {
    if (err.name === "AbortError") return "request aborted";
    // node:http's text when the peer closes mid-body.
    if (err.message === "aborted") {
      return "connection closed before the response body was complete";
    }
    const cause = (err as { cause?: unknown }).cause;
    if (cause instanceof Error && err.message === "fetch failed") return describe(cause);
    const code = (err as { code?: unknown }).code;
    return typeof code === "string" && !err.message.includes(code)
      ? `${err.message} (${code})`
      : err.message;
  }
  return String(err);
}
