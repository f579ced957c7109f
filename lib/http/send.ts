/**
 * Sends one HTTP request (no redirect handling) and returns status, headers and a body stream.
 *
 * Two transports, chosen by target:
 * - loopback hosts go through `node:http`/`node:https`, which connect directly: Deno's `fetch`
 *   honours `HTTP_PROXY`/`ALL_PROXY` even for 127.0.0.1 and offers no per-client "no proxy"
 *   switch, while upstream sends loopback requests direct. This path also keeps repeated
 *   request headers as separate lines, in order, and reports repeated response headers one by one;
 * - everything else goes through `fetch`, which honours the proxy variables like upstream's
 *   client does (`fetch` merges repeated headers into one comma-joined value, which HTTP treats
 *   as equivalent except for `set-cookie`, kept apart).
 * @module
 */
import http from "node:http";
import https from "node:https";
import { Readable } from "node:stream";
import { isLoopbackHost } from "../util/loopback.ts";

/** One request on the wire. */
export interface WireRequest {
  method: string;
  url: URL;
  headers: [string, string][];
  body?: Uint8Array;
}

/** A response whose body has not been read yet. */
export interface WireResponse {
  status: number;
  /** Lowercase names, repeated names kept; values that are not UTF-8 are dropped. */
  headers: [string, string][];
  body: ReadableStream<Uint8Array>;
}

/** Options of {@linkcode sendOnce}. */
export interface SendOptions {
  /** Aborts the request and its body stream. */
  signal: AbortSignal;
}

/**
 * Whether `url` names a loopback host (127.0.0.0/8, ::1, localhost).
 *
 * @example
 * ```ts
 * isLoopback(new URL("http://127.0.0.1:8080/")); // true
 * ```
 */
export function isLoopback(url: URL): boolean {
  return isLoopbackHost(url.hostname);
}

/**
 * Sends `request` once and resolves when the response head has arrived.
 *
 * @example
 * ```ts
 * const response = await sendOnce(
 *   { method: "GET", url: new URL("http://127.0.0.1:8080/"), headers: [] },
 *   { signal: AbortSignal.timeout(1000) },
 * );
 * await response.body.cancel();
 * ```
 */
export function sendOnce(request: WireRequest, options: SendOptions): Promise<WireResponse> {
  return isLoopback(request.url) ? sendDirect(request, options) : sendWithFetch(request, options);
}

async function sendWithFetch(request: WireRequest, options: SendOptions): Promise<WireResponse> {
  const headers = new Headers();
  for (const [name, value] of request.headers) headers.append(name, value);
  const response = await fetch(request.url, {
    method: request.method,
    headers,
    body: request.body as BodyInit | undefined,
    redirect: "manual",
    signal: options.signal,
  });
  const pairs: [string, string][] = [];
  // Header values arrive as byte strings; like upstream, drop the ones that are not UTF-8.
  const add = (name: string, value: string) => {
    const text = latin1ToUtf8(value);
    if (text !== undefined) pairs.push([name, text]);
  };
  for (const [name, value] of response.headers) if (name !== "set-cookie") add(name, value);
  for (const cookie of response.headers.getSetCookie()) add("set-cookie", cookie);
  return {
    status: response.status,
    headers: pairs,
    body: response.body ?? new ReadableStream({ start: (c) => c.close() }),
  };
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

function sendDirect(request: WireRequest, options: SendOptions): Promise<WireResponse> {
  const { signal } = options;
  const target = request.url;
  const headers: [string, string][] = [...request.headers];
  const has = (name: string) => headers.some(([n]) => n.toLowerCase() === name);
  if (!has("host")) headers.push(["host", target.host]);
  if (!has("accept")) headers.push(["accept", "*/*"]);
  if (request.body && !has("content-length") && !has("transfer-encoding")) {
    headers.push(["content-length", String(request.body.length)]);
  }
  const { promise, resolve, reject } = Promise.withResolvers<WireResponse>();
  if (signal.aborted) {
    reject(signal.reason);
    return promise;
  }
  const client = target.protocol === "https:" ? https : http;
  const req = client.request({
    protocol: target.protocol,
    hostname: target.hostname.replace(/^\[(.*)\]$/, "$1"),
    port: target.port || (target.protocol === "https:" ? 443 : 80),
    method: request.method,
    path: `${target.pathname}${target.search}`,
    // A raw [name, value] list is sent as given: order and repeats preserved.
    headers: headers as unknown as http.OutgoingHttpHeaders,
    // No pooled keep-alive sockets: each request owns and releases its connection.
    agent: false,
  });
  const onAbort = () => req.destroy(asError(signal.reason));
  signal.addEventListener("abort", onAbort, { once: true });
  req.on("error", (err: Error) => {
    signal.removeEventListener("abort", onAbort);
    reject(err);
  });
  req.on("response", (res: http.IncomingMessage) => {
    const pairs: [string, string][] = [];
    const raw = res.rawHeaders;
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const value = latin1ToUtf8(raw[i + 1]);
      if (value !== undefined) pairs.push([raw[i].toLowerCase(), value]);
    }
    const body = Readable.toWeb(res) as ReadableStream<Uint8Array>;
    res.on("close", () => signal.removeEventListener("abort", onAbort));
    resolve({ status: res.statusCode ?? 0, headers: pairs, body });
  });
  req.end(request.body);
  return promise;
}

// node:http hands header values over as latin1 strings of the raw bytes.
function latin1ToUtf8(value: string): string | undefined {
  const bytes = new Uint8Array(value.length);
  for (let i = 0; i < value.length; i++) bytes[i] = value.charCodeAt(i);
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}

function asError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error(String(reason));
}
