/**
 * The rendezvous server: registry endpoints (`register`, `connect`), signed websocket
 * endpoints for executors and harnesses, and `/readyz`, on one HTTP listener.
 * @module
 */
import { checkBearer } from "../util/bearer.ts";
import { acceptWebSocket, serveHttp } from "../transport/http_listener.ts";
import { log as processLog } from "../util/log.ts";
import { ExecutorHub, type HubOptions, type RoutingStats } from "./_hub.ts";
import { RENDEZVOUS_PATH, type RendezvousRole, UrlSigner } from "./url_signer.ts";
import { EnvironmentRegistry } from "./environment_registry.ts";

/**
 * Options of {@linkcode startRendezvous}.
 * @example
 * ```ts
 * import type { RendezvousOptions } from "./server.ts";
 * const options: RendezvousOptions = { hostname: "127.0.0.1", port: 0, token: "s3cret" };
 * ```
 */
export interface RendezvousOptions {
  hostname: string;
  port: number;
  /** Bearer token required by `register` and `connect`; none = any caller is accepted. */
  token?: string;
  /** `ws://` or `wss://` base used in issued URLs; default: the request's own host. */
  publicUrl?: string;
  /** Lifetime of issued websocket URLs. Default 600 s. */
  urlTtlSeconds?: number;
  /** How long harness sockets wait for a disconnected executor. Default 60 s. */
  graceMs?: number;
  /** Websocket ping interval (dead peers are closed). Default 30 s. */
  pingIntervalSeconds?: number;
  /** Deadline for a request head and body (default 10 s; see `HTTP_LIMITS`). */
  httpDeadlineMs?: number;
  /** Interval of keepalive frames to executors. Default: half the ping interval. */
  keepaliveMs?: number;
  /** Per-connection queue bound. Default 32 MiB. */
  maxQueuedBytes?: number;
  /** Queue instead of writing while a socket buffers more than this. Default 1 MiB. */
  highWaterBytes?: number;
  /** Most streams one harness socket may claim. Default 16. */
  maxStreamsPerHarness?: number;
  /** Log sink for warnings (default: the process logger). */
  log?: (line: string) => void;
}

/**
 * A running rendezvous.
 * @example
 * ```ts
 * import { startRendezvous } from "./server.ts";
 * const server = await startRendezvous({ hostname: "127.0.0.1", port: 0 });
 * console.log(server.url, server.stats());
 * await server.shutdown();
 * ```
 */
export interface RendezvousServer {
  /** `http://IP:PORT`: the registry base URL. */
  readonly url: string;
  readonly addr: Deno.NetAddr;
  /** Routing counters summed over every executor. */
  stats(): RoutingStats & { executorsOnline: number; harnessSockets: number; streams: number };
  /** Closes every socket and stops listening. */
  shutdown(): Promise<void>;
  readonly finished: Promise<void>;
}

interface RegistrationRecord {
  registrationId: string;
  idempotencyId: string | undefined;
  name: string;
  labels: Record<string, string>;
  metadata: Record<string, unknown>;
}

const EXECUTOR_ID = /^[A-Za-z0-9_-]{1,256}$/;
const API_PATH = /^\/cloud\/executor\/([^/]+)\/(register|connect)$/;

function errorResponse(status: number, code: string, message: string): Response {
  return Response.json({ error: { code, message } }, { status });
}

function stringRecord(value: unknown): Record<string, string> | undefined {
  if (value === undefined || value === null) return {};
  if (typeof value !== "object" || Array.isArray(value)) return undefined;
  for (const v of Object.values(value)) if (typeof v !== "string") return undefined;
  return value as Record<string, string>;
}

/**
 * Starts the rendezvous; resolves once it listens.
 *
 * @example
 * ```ts
 * import { startRendezvous } from "./server.ts";
 * const server = await startRendezvous({ hostname: "127.0.0.1", port: 0, token: "t" });
 * // executors: POST ${server.url}/cloud/executor/<ID>/register
 * // harnesses: POST ${server.url}/cloud/executor/<ID>/connect
 * await server.shutdown();
 * ```
 */
export async function startRendezvous(options: RendezvousOptions): Promise<RendezvousServer> {
  const signer = await UrlSigner.create();
  const warn = options.log ?? processLog.warn;
  const hubOptions: HubOptions = {
    graceMs: options.graceMs ?? 60_000,
    maxQueuedBytes: options.maxQueuedBytes ?? 32 * 1024 * 1024,
    highWaterBytes: options.highWaterBytes ?? 1024 * 1024,
    maxStreamsPerHarness: options.maxStreamsPerHarness ?? 16,
    keepaliveMs: options.keepaliveMs ?? (options.pingIntervalSeconds ?? 30) * 500,
    log: warn,
    info: options.log ?? processLog.info,
    debug: options.log ?? processLog.debug,
  };
  const ttl = options.urlTtlSeconds ?? 600;
  const registrations = new Map<string, RegistrationRecord>();
  const hubs = new Map<string, ExecutorHub>();
  const environments = await EnvironmentRegistry.create({
    hub: hubOptions,
    urlTtlSeconds: ttl,
    authorize: (request) =>
      options.token === undefined ||
      checkBearer(options.token, request.headers.get("authorization")) === "ok",
    wsBase: (request) => wsBase(request),
  });

  function hub(executorId: string): ExecutorHub {
    let found = hubs.get(executorId);
    if (!found) {
      found = new ExecutorHub(executorId, hubOptions);
      hubs.set(executorId, found);
    }
    return found;
  }

  function wsBase(request: Request): string {
    if (options.publicUrl) return options.publicUrl.replace(/\/+$/, "");
    const url = new URL(request.url);
    return `${url.protocol === "https:" ? "wss:" : "ws:"}//${url.host}`;
  }

  async function issue(request: Request, role: RendezvousRole, executorId: string) {
    return await signer.sign(wsBase(request), {
      role,
      executorId,
      registrationId: registrations.get(executorId)?.registrationId ?? "",
      expiresAt: Date.now() / 1000 + ttl,
    });
  }

  async function register(request: Request, executorId: string): Promise<Response> {
    let body: Record<string, unknown>;
    try {
      body = await request.json();
    } catch {
      return errorResponse(400, "invalid_request", "the body must be a JSON object");
    }
    if (typeof body !== "object" || body === null || Array.isArray(body)) {
      return errorResponse(400, "invalid_request", "the body must be a JSON object");
    }
    if (body.executor_id !== undefined && body.executor_id !== executorId) {
      return errorResponse(400, "invalid_request", "executor_id differs from the URL path");
    }
    const labels = stringRecord(body.labels);
    if (!labels) return errorResponse(400, "invalid_request", "labels must map strings to strings");
    const metadata = body.metadata ?? {};
    if (typeof metadata !== "object" || metadata === null || Array.isArray(metadata)) {
      return errorResponse(400, "invalid_request", "metadata must be an object");
    }
    const idempotencyId = typeof body.idempotency_id === "string" ? body.idempotency_id : undefined;
    const previous = registrations.get(executorId);
    // The same process registering again (same idempotency id) keeps its registration.
    const same = previous !== undefined && idempotencyId !== undefined &&
      previous.idempotencyId === idempotencyId;
    // An id is bound to the registration of the executor that holds it: while that executor is
    // connected, anyone else (any token holder) is refused instead of taking over its traffic.
    if (previous && !same && hubs.get(executorId)?.online) {
      return errorResponse(
        409,
        "executor_id_in_use",
        `executor ${executorId} is registered and connected by another process (a different ` +
          `idempotency_id); retry once it is gone`,
      );
    }
    const registrationId = same ? previous.registrationId : `reg_${crypto.randomUUID()}`;
    registrations.set(executorId, {
      registrationId,
      idempotencyId,
      name: typeof body.name === "string" ? body.name : executorId,
      labels,
      metadata: metadata as Record<string, unknown>,
    });
    if (previous?.registrationId !== registrationId) {
      hubOptions.info(`rendezvous: executor ${executorId} registered (${registrationId})`);
    }
    return Response.json({
      id: executorId,
      executor_id: executorId,
      registration_id: registrationId,
      url: await issue(request, "executor", executorId),
    });
  }

  async function connect(request: Request, executorId: string): Promise<Response> {
    await request.body?.cancel();
    if (!registrations.has(executorId)) {
      return errorResponse(404, "unknown_executor", `executor ${executorId} is not registered`);
    }
    if (!hubs.get(executorId)?.online) {
      return errorResponse(
        409,
        "executor_offline",
        `executor ${executorId} is registered but not connected; retry when it is online`,
      );
    }
    return Response.json({
      executor_id: executorId,
      url: await issue(request, "harness", executorId),
    });
  }

  async function upgrade(request: Request, peer: Deno.NetAddr): Promise<Response> {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return errorResponse(426, "upgrade_required", "expected a websocket upgrade");
    }
    const claims = await signer.verify(new URL(request.url));
    if (typeof claims === "string") return errorResponse(401, "invalid_url", claims);
    // URLs of a replaced registration are revoked at once, not when they expire.
    if (registrations.get(claims.executorId)?.registrationId !== claims.registrationId) {
      return errorResponse(
        401,
        "invalid_url",
        "this URL belongs to a registration that was replaced; register (or connect) again",
      );
    }
    const target = hub(claims.executorId);
    if (claims.role === "harness" && !target.online) {
      return errorResponse(409, "executor_offline", `executor ${claims.executorId} is offline`);
    }
    const label = `${claims.role} ${peer.hostname}:${peer.port}`;
    return acceptWebSocket((socket) => {
      socket.binaryType = "arraybuffer";
      if (claims.role === "executor") target.attachExecutor(socket, label);
      else if (target.online) target.attachHarness(socket, label);
      else socket.close(1011, "executor offline");
    });
  }

  const server = await serveHttp({
    hostname: options.hostname,
    port: options.port,
    label: "rendezvous",
    pingIntervalSeconds: options.pingIntervalSeconds,
    headDeadlineMs: options.httpDeadlineMs,
  }, (request, info) => {
    const url = new URL(request.url);
    if (url.pathname === "/readyz" && request.method === "GET") return new Response("ok\n");
    if (url.pathname.startsWith(RENDEZVOUS_PATH)) {
      return upgrade(request, info.remoteAddr);
    }
    if (environments.handles(url.pathname)) {
      return environments.handle(request, info.remoteAddr as Deno.NetAddr);
    }
    const match = API_PATH.exec(url.pathname);
    if (!match) return errorResponse(404, "not_found", `no route for ${url.pathname}`);
    if (request.method !== "POST") {
      return errorResponse(405, "method_not_allowed", "use POST");
    }
    if (
      options.token !== undefined &&
      checkBearer(options.token, request.headers.get("authorization")) !== "ok"
    ) {
      return errorResponse(
        401,
        "unauthorized",
        "missing or wrong bearer token (Authorization: Bearer <token>)",
      );
    }
    let executorId: string;
    try {
      executorId = decodeURIComponent(match[1]);
    } catch {
      executorId = ""; // bad percent-encoding: refused below like any other bad id
    }
    if (!EXECUTOR_ID.test(executorId)) {
      return errorResponse(
        400,
        "invalid_executor_id",
        "executor ids are 1-256 ASCII letters, digits, '-' or '_'",
      );
    }
    return match[2] === "register" ? register(request, executorId) : connect(request, executorId);
  });
  const addr = server.addr;
  const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  return {
    url: `http://${host}:${addr.port}`,
    addr,
    finished: server.finished,
    stats() {
      const total = {
        framesToExecutor: 0,
        framesToHarness: 0,
        bytesRouted: 0,
        dropped: 0,
        resetsInjected: 0,
        executorsOnline: 0,
        harnessSockets: 0,
        streams: 0,
      };
      for (const h of [...hubs.values(), ...environments.hubs()]) {
        for (const key of Object.keys(h.stats) as (keyof RoutingStats)[]) {
          total[key] += h.stats[key];
        }
        if (h.online) total.executorsOnline++;
        total.harnessSockets += h.harnessCount;
        total.streams += h.streamCount;
      }
      return total;
    },
    async shutdown() {
      for (const h of hubs.values()) h.close(1001, "rendezvous shutting down");
      environments.close(1001, "rendezvous shutting down");
      await server.shutdown();
    },
  };
}
