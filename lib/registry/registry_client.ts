/**
 * The registry HTTP contract (spec/relay.md §4, era E2): executor registration and harness
 * connect, JSON over `POST`, bearer auth, no redirects, errors parsed or previewed.
 * @module
 */
import { createHash } from "node:crypto";
import { asBearerToken, type BearerToken } from "./bearer_token.ts";
import { RegistryError } from "./errors.ts";

/**
 * Protocol version folded into the idempotency id.
 * @example
 * ```ts
 * import { REMOTE_PROTOCOL_VERSION } from "./registry_client.ts";
 * REMOTE_PROTOCOL_VERSION; // "codex-exec-server-v1"
 * ```
 */
export const REMOTE_PROTOCOL_VERSION = "codex-exec-server-v1";
/** Upstream's registry request timeout. */
const REQUEST_TIMEOUT_MS = 10_000;
/** Longest raw error body quoted in an error message. */
const BODY_PREVIEW_CHARS = 4096;

/**
 * Normalises a registry base URL: trims whitespace and trailing `/` (a path prefix is kept).
 *
 * @throws {RegistryError} code `invalid_argument` unless it is an http(s) URL.
 * @example
 * ```ts
 * import { normalizeBaseUrl } from "./registry_client.ts";
 * normalizeBaseUrl(" http://127.0.0.1:8080/api/ "); // "http://127.0.0.1:8080/api"
 * ```
 */
export function normalizeBaseUrl(raw: string): string {
  const trimmed = raw.trim().replace(/\/+$/, "");
  let url: URL;
  try {
    url = new URL(trimmed);
  } catch {
    throw new RegistryError("invalid_argument", `registry URL \`${raw}\` is not a URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new RegistryError(
      "invalid_argument",
      `registry URL \`${raw}\` must start with http:// or https://`,
    );
  }
  if (url.search || url.hash) {
    throw new RegistryError("invalid_argument", `registry URL \`${raw}\` must not have a query`);
  }
  return trimmed;
}

const PATH_ID = /^[A-Za-z0-9_-]{1,256}$/;

/**
 * Checks an id that goes into an authenticated URL path (an executor or environment id): 1–256
 * ASCII letters, digits, `-` or `_`, so that `x/../../status` does not get through.
 *
 * @throws {RegistryError} code `invalid_argument`, naming the `kind` of id.
 * @example
 * ```ts
 * import { validatePathId } from "./registry_client.ts";
 * validatePathId("environment", "env-1"); // "env-1"
 * ```
 */
export function validatePathId(kind: "executor" | "environment", id: string): string {
  if (!PATH_ID.test(id)) {
    throw new RegistryError(
      "invalid_argument",
      `${kind} id \`${id.slice(0, 300)}\` is invalid: use 1-256 ASCII letters, digits, '-' or '_'`,
    );
  }
  return id;
}

/**
 * Checks an executor id ({@linkcode validatePathId}).
 *
 * @throws {RegistryError} code `invalid_argument`.
 * @example
 * ```ts
 * import { validateExecutorId } from "./registry_client.ts";
 * validateExecutorId("laptop-1"); // "laptop-1"
 * ```
 */
export function validateExecutorId(id: string): string {
  return validatePathId("executor", id);
}

/**
 * The `url` a registry answered, checked to be a ws:// or wss:// URL (`where` names the request
 * in the error).
 *
 * @throws {RegistryError} code `invalid_response`.
 * @example
 * ```ts
 * import { checkWebsocketUrl } from "./registry_client.ts";
 * checkWebsocketUrl("ws://127.0.0.1:1/r?role=harness", "registry POST /connect");
 * ```
 */
export function checkWebsocketUrl(value: unknown, where: string): string {
  const url = typeof value === "string" ? value.trim() : "";
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (!parsed || (parsed.protocol !== "ws:" && parsed.protocol !== "wss:")) {
    throw new RegistryError("invalid_response", `${where} answered without a ws:// or wss:// url`);
  }
  return url;
}

/**
 * Options of {@linkcode idempotencyId}.
 * @example
 * ```ts
 * import type { IdempotencyOptions } from "./registry_client.ts";
 * const options: IdempotencyOptions = { executorId: "e1", name: "n", registrationUuid: crypto.randomUUID() };
 * ```
 */
export interface IdempotencyOptions {
  executorId: string;
  name: string;
  /** Chosen once per process, so re-registrations of one process are idempotent. */
  registrationUuid: string;
}

/**
 * `codex-exec-server-` + hex SHA-256 over executor id, name, protocol version and the
 * per-process registration UUID, NUL-separated.
 *
 * @example
 * ```ts
 * import { idempotencyId } from "./registry_client.ts";
 * idempotencyId({ executorId: "e1", name: "box", registrationUuid: "u" }).length; // 18 + 64
 * ```
 */
export function idempotencyId(options: IdempotencyOptions): string {
  const hash = createHash("sha256");
  hash.update(
    [options.executorId, options.name, REMOTE_PROTOCOL_VERSION, options.registrationUuid]
      .join("\0"),
  );
  return `codex-exec-server-${hash.digest("hex")}`;
}

/**
 * Options of {@linkcode registryPost}.
 * @example
 * ```ts
 * import type { RegistryPostOptions } from "./registry_client.ts";
 * import { BearerToken } from "./bearer_token.ts";
 * const options: RegistryPostOptions = { token: new BearerToken("t"), body: {} };
 * ```
 */
export interface RegistryPostOptions {
  token: BearerToken;
  /** JSON body. */
  body: unknown;
  /** Cancels the request (e.g. on shutdown). */
  signal?: AbortSignal;
  /** Whole request including the body read. Default 10 s. */
  timeoutMs?: number;
  /** Extra request headers (e.g. `x-codex-noise-stream-id`). */
  headers?: Record<string, string>;
}

/**
 * `POST <base><path>` with a JSON body and `Authorization: Bearer`; returns the parsed JSON of
 * a 2xx answer. Redirects are not followed (auth headers never leave the origin).
 *
 * @throws {RegistryError} `auth` (401/403), `http`, `network`, `invalid_response`; the token
 * is redacted from every message.
 * @example
 * ```ts
 * import { registryPost } from "./registry_client.ts";
 * import { BearerToken } from "./bearer_token.ts";
 * await registryPost("http://127.0.0.1:8080", "/cloud/executor/e1/connect", {
 *   token: new BearerToken("t"),
 *   body: {},
 * });
 * ```
 */
export async function registryPost(
  base: string,
  path: string,
  options: RegistryPostOptions,
): Promise<unknown> {
  const url = `${base}${path}`;
  const timeout = AbortSignal.timeout(options.timeoutMs ?? REQUEST_TIMEOUT_MS);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  const redact = (text: string) => options.token.redact(text);
  let response: Response;
  let text: string;
  try {
    response = await fetch(url, {
      method: "POST",
      redirect: "manual",
      headers: {
        authorization: options.token.authorization(),
        "content-type": "application/json",
        accept: "application/json",
        ...options.headers,
      },
      body: JSON.stringify(options.body),
      signal,
    });
    text = await response.text();
  } catch (error) {
    if (options.signal?.aborted) throw options.signal.reason;
    const why = timeout.aborted
      ? `no answer within ${options.timeoutMs ?? REQUEST_TIMEOUT_MS} ms`
      : redact((error as Error).message);
    throw new RegistryError("network", `registry request POST ${url} failed: ${why}`);
  }
  if (response.status < 200 || response.status > 299) {
    throw httpError(url, response, redact(text));
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new RegistryError(
      "invalid_response",
      `registry POST ${url} answered ${response.status} with a body that is not JSON: ${
        preview(redact(text))
      }`,
    );
  }
}

function preview(text: string): string {
  if (text.trim() === "") return "empty body";
  return text.length > BODY_PREVIEW_CHARS ? `${text.slice(0, BODY_PREVIEW_CHARS)}…` : text;
}

function httpError(url: string, response: Response, body: string): RegistryError {
  let registryCode: string | undefined;
  let message: string | undefined;
  try {
    const parsed = JSON.parse(body) as { error?: { code?: unknown; message?: unknown } };
    if (typeof parsed?.error?.code === "string") registryCode = parsed.error.code;
    if (typeof parsed?.error?.message === "string") message = parsed.error.message;
  } catch {
    // not JSON: quoted raw below
  }
  const status = response.status;
  const statusText = `${status}${response.statusText ? ` ${response.statusText}` : ""}`;
  const head = `registry request POST ${url} failed (${statusText}${
    registryCode ? `, ${registryCode}` : ""
  })`;
  const detail = message ?? (body.trim() === "" ? "empty error body" : preview(body));
  if (status === 401 || status === 403) {
    return new RegistryError(
      "auth",
      `${head}: ${detail}; the registry refused the bearer token`,
      { status, registryCode },
    );
  }
  const redirect = status >= 300 && status < 400
    ? `; redirects are not followed (Location: ${response.headers.get("location") ?? "none"})`
    : "";
  return new RegistryError("http", `${head}: ${detail}${redirect}`, { status, registryCode });
}

/**
 * A successful registration.
 * @example
 * ```ts
 * import type { Registration } from "./registry_client.ts";
 * const r: Registration = { executorId: "e1", url: "ws://127.0.0.1:1/x?role=executor" };
 * ```
 */
export interface Registration {
  executorId: string;
  /** The registry's `id` (or `registration_id`), when it sent one. */
  registrationId?: string;
  /** Rendezvous websocket URL (`role=executor`). */
  url: string;
}

/**
 * Options of {@linkcode registerExecutor}.
 * @example
 * ```ts
 * import type { RegisterOptions } from "./registry_client.ts";
 * import { BearerToken } from "./bearer_token.ts";
 * const options: RegisterOptions = {
 *   executorId: "e1", name: "box", labels: {}, metadata: {}, idempotencyId: "codex-exec-server-0",
 *   token: new BearerToken("t"),
 * };
 * ```
 */
export interface RegisterOptions {
  executorId: string;
  name: string;
  labels: Record<string, string>;
  metadata: Record<string, unknown>;
  idempotencyId: string;
  token: BearerToken;
  signal?: AbortSignal;
}

/**
 * `POST <base>/cloud/executor/<ID>/register` once (no retry: callers decide).
 *
 * @example
 * ```ts
 * import { registerExecutor } from "./registry_client.ts";
 * import { BearerToken } from "./bearer_token.ts";
 * const registration = await registerExecutor("http://127.0.0.1:8080", {
 *   executorId: "e1", name: "box", labels: {}, metadata: {}, idempotencyId: "codex-exec-server-0",
 *   token: new BearerToken("t"),
 * });
 * console.log(registration.url);
 * ```
 */
export async function registerExecutor(
  base: string,
  options: RegisterOptions,
): Promise<Registration> {
  const path = `/cloud/executor/${encodeURIComponent(options.executorId)}/register`;
  const body = await registryPost(base, path, {
    token: options.token,
    signal: options.signal,
    body: {
      idempotency_id: options.idempotencyId,
      executor_id: options.executorId,
      name: options.name,
      labels: options.labels,
      metadata: options.metadata,
    },
  }) as Record<string, unknown>;
  const url = checkWebsocketUrl(body?.url, `registry POST ${base}${path}`);
  const executorId = body?.executor_id;
  if (executorId !== undefined && executorId !== options.executorId) {
    throw new RegistryError(
      "invalid_response",
      `registry returned a different executor id (${String(executorId).slice(0, 300)})`,
    );
  }
  const registrationId = typeof body.registration_id === "string"
    ? body.registration_id
    : typeof body.id === "string"
    ? body.id
    : undefined;
  return { executorId: options.executorId, registrationId, url };
}

/**
 * Options of {@linkcode resolveHarnessUrl}.
 * @example
 * ```ts
 * import type { ResolveHarnessOptions } from "./registry_client.ts";
 * const options: ResolveHarnessOptions = { registry: "http://127.0.0.1:8080", executorId: "e1", token: "t" };
 * ```
 */
export interface ResolveHarnessOptions {
  /** Registry base URL (as given to `--registry`). */
  registry: string;
  executorId: string;
  /** Bearer token (a plain string is wrapped so it stays out of errors). */
  token: string | BearerToken;
  signal?: AbortSignal;
}

/**
 * Asks the registry for a harness URL: `POST <registry>/cloud/executor/<ID>/connect` →
 * `{executor_id, url}`; returns the `role=harness` websocket URL to pass to
 * `connectHarnessStream`. URLs are short-lived: resolve one per connection.
 *
 * @throws {RegistryError} e.g. code `http`, status 409, `registryCode` `executor_offline`
 * when the executor is not connected.
 * @example
 * ```ts
 * import { resolveHarnessUrl } from "./registry_client.ts";
 * const url = await resolveHarnessUrl({
 *   registry: "http://127.0.0.1:8080",
 *   executorId: "laptop",
 *   token: Deno.env.get("CODEX_EXEC_SERVER_REMOTE_BEARER_TOKEN") ?? "",
 * });
 * ```
 */
export async function resolveHarnessUrl(options: ResolveHarnessOptions): Promise<string> {
  const base = normalizeBaseUrl(options.registry);
  const executorId = validateExecutorId(options.executorId);
  const token = asBearerToken(options.token);
  const path = `/cloud/executor/${executorId}/connect`;
  const body = await registryPost(base, path, {
    token,
    body: {},
    signal: options.signal,
  }) as Record<string, unknown>;
  if (body?.executor_id !== undefined && body.executor_id !== executorId) {
    throw new RegistryError("invalid_response", "registry returned a different executor id");
  }
  return checkWebsocketUrl(body?.url, `registry POST ${base}${path}`);
}
