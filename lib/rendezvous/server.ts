/**
 * The rendezvous server: registry endpoints (`register`, `connect`), signed websocket
 * endpoints for executors and harnesses, and `/readyz`, on one HTTP listener.
 * @module
 */
import { checkBearer } from "../util/bearer.ts";
import { acceptWebSocket, serveHttp } from "../transport/http_listener.ts";
import { log as processLog } from "../util/log.ts";
import { EXECUTOR_REPLACED_REASON } from "../relay/executor_replaced.ts";
import { DROP_REASONS, ExecutorHub, type HubOptions, type RoutingStats } from "./_hub.ts";
import { emptyQueueDepths, type QueueDepths } from "./_paced_socket.ts";
import { RENDEZVOUS_PATH, type RendezvousRole, UrlSigner } from "./url_signer.ts";
import { EnvironmentRegistry } from "./environment_registry.ts";
import { MemoryRegistryStore, type RegistryStore } from "./cluster/registry_store.ts";
import { type MetricFamily, METRICS_CONTENT_TYPE, renderMetrics } from "./metrics.ts";

/**
 * What the server asks of cross-node forwarding (`cluster/frame_router.ts`'s `FrameRouter`).
 * @example
 * ```ts
 * import type { RendezvousRouter } from "./server.ts";
 * function drops(router: RendezvousRouter): number {
 *   return Object.values(router.stats().dropsByReason).reduce((a, b) => a + b, 0);
 * }
 * ```
 */
export interface RendezvousRouter {
  /** The executor's socket is now on this node; `hub` (the module-private hub) routes it. */
  executorOnline(executorId: string, hub: object): void;
  /** The executor's socket left this node. */
  executorOffline(executorId: string): void;
  /** Serves an open harness socket whose executor is held by another node. */
  forwardHarness(
    socket: WebSocket,
    options: { executorId: string; label: string; holder: string },
  ): void;
  /** Counters; `dropsByReason` feeds `rendezvous_frames_dropped_total`. */
  stats(): { dropsByReason: Record<string, number> };
  /** Adds the queues of the harness sockets it forwards. */
  addQueueDepths(depths: QueueDepths): void;
  /** Extra metric families, each sample labelled with `labels`. */
  metricFamilies(labels: Record<string, string>): MetricFamily[];
  /** Stops forwarding without telling other nodes (this node is going away). */
  detach(): void;
}

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
  /** Open connections at most (default: from the open-file limit; see `HTTP_LIMITS`). */
  maxConnections?: number;
  /** Interval of keepalive frames to executors. Default: half the ping interval. */
  keepaliveMs?: number;
  /** Per-connection queue bound. Default 32 MiB. */
  maxQueuedBytes?: number;
  /** How long a harness may hold its executor paused without draining. Default 10 s. */
  stallMs?: number;
  /** Queue instead of writing while a socket buffers more than this. Default 1 MiB. */
  highWaterBytes?: number;
  /** Most streams one harness socket may claim. Default 16. */
  maxStreamsPerHarness?: number;
  /** Log sink for warnings (default: the process logger). */
  log?: (line: string) => void;
  /**
   * Registry state (default: in memory, one node). A cluster passes its shared store; every
   * issued URL then names the node it is for, and only that node accepts it.
   */
  store?: RegistryStore;
  /**
   * Cross-node frame forwarding (cluster only): a harness socket for an executor whose socket
   * is on another node is forwarded over NATS instead of refused.
   */
  router?: RendezvousRouter;
  /**
   * Which node's URL `connect` hands out in a cluster: `direct` (default) names the executor's
   * node, so frames never cross nodes; `forward` names this node (for harnesses that can reach
   * only it), and frames are forwarded.
   */
  harnessRouting?: "direct" | "forward";
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
  /** This node's id (`local` on one node). */
  readonly nodeId: string;
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
  const store = options.store ?? new MemoryRegistryStore();
  const nodeId = store.nodeId;
  const signer = await UrlSigner.create(await store.signingSecret());
  // In a cluster every line names the node it comes from.
  const named = (sink: (line: string) => void) =>
    store.clustered
      ? (line: string) => sink(line.replace(/^rendezvous:/, `rendezvous[${nodeId}]:`))
      : sink;
  const warn = named(options.log ?? processLog.warn);
  const hubOptions: HubOptions = {
    graceMs: options.graceMs ?? 60_000,
    maxQueuedBytes: options.maxQueuedBytes ?? 32 * 1024 * 1024,
    stallMs: options.stallMs ?? 10_000,
    highWaterBytes: options.highWaterBytes ?? 1024 * 1024,
    maxStreamsPerHarness: options.maxStreamsPerHarness ?? 16,
    keepaliveMs: options.keepaliveMs ?? (options.pingIntervalSeconds ?? 30) * 500,
    log: warn,
    info: named(options.log ?? processLog.info),
    debug: named(options.log ?? processLog.debug),
  };
  const ttl = options.urlTtlSeconds ?? 600;
  const hubs = new Map<string, ExecutorHub>();
  const environments = await EnvironmentRegistry.create({
    hub: hubOptions,
    urlTtlSeconds: ttl,
    authorize: (request) =>
      options.token === undefined ||
      checkBearer(options.token, request.headers.get("authorization")) === "ok",
    wsBase: (request) => wsBase(request),
    store,
    router: options.router,
    harnessRouting: options.harnessRouting,
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

  async function issue(
    request: Request,
    role: RendezvousRole,
    executorId: string,
    registrationId: string,
    node = nodeId,
  ) {
    // Another node's URL comes from its lease (it listens elsewhere); ours from the request.
    const base = node === nodeId ? wsBase(request) : await store.nodeUrl(node);
    if (base === undefined) return undefined;
    return await signer.sign(base, {
      role,
      executorId,
      registrationId,
      expiresAt: Date.now() / 1000 + ttl,
      ...(store.clustered ? { node } : {}),
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
    const previous = await store.getRegistration<RegistrationRecord>("executor", executorId);
    // The same process registering again (same idempotency id) keeps its registration.
    const same = previous !== undefined && idempotencyId !== undefined &&
      previous.idempotencyId === idempotencyId;
    // An id is bound to the registration of the executor that holds it: while that executor is
    // connected (on any node of a cluster), anyone else (any token holder) is refused instead
    // of taking over its traffic.
    const connected = hubs.get(executorId)?.online ||
      (store.clustered && (await store.locate(executorId)) !== undefined);
    if (previous && !same && connected) {
      return errorResponse(
        409,
        "executor_id_in_use",
        `executor ${executorId} is registered and connected by another process (a different ` +
          `idempotency_id); retry once it is gone`,
      );
    }
    const registrationId = same ? previous.registrationId : `reg_${crypto.randomUUID()}`;
    await store.putRegistration(
      "executor",
      executorId,
      {
        registrationId,
        idempotencyId,
        name: typeof body.name === "string" ? body.name : executorId,
        labels,
        metadata: metadata as Record<string, unknown>,
      } satisfies RegistrationRecord,
    );
    if (previous?.registrationId !== registrationId) {
      hubOptions.info(`rendezvous: executor ${executorId} registered (${registrationId})`);
    }
    return Response.json({
      id: executorId,
      executor_id: executorId,
      registration_id: registrationId,
      url: await issue(request, "executor", executorId, registrationId),
    });
  }

  async function connect(request: Request, executorId: string): Promise<Response> {
    await request.body?.cancel();
    const registration = await store.getRegistration<RegistrationRecord>("executor", executorId);
    if (!registration) {
      return errorResponse(404, "unknown_executor", `executor ${executorId} is not registered`);
    }
    const offline = () =>
      errorResponse(
        409,
        "executor_offline",
        `executor ${executorId} is registered but not connected; retry when it is online`,
      );
    const holder = hubs.get(executorId)?.online ? nodeId : await store.locate(executorId);
    if (holder === undefined) return offline();
    // Direct: the harness goes to the executor's node and frames stay on it. Forward (or a
    // holder we cannot route to directly): this node, which forwards over the cluster.
    const direct = holder === nodeId || options.harnessRouting !== "forward" || !options.router;
    const url = await issue(
      request,
      "harness",
      executorId,
      registration.registrationId,
      direct ? holder : nodeId,
    );
    if (url === undefined) return offline();
    return Response.json({ executor_id: executorId, url });
  }

  async function upgrade(request: Request, peer: Deno.NetAddr): Promise<Response> {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return errorResponse(426, "upgrade_required", "expected a websocket upgrade");
    }
    const claims = await signer.verify(new URL(request.url));
    if (typeof claims === "string") return errorResponse(401, "invalid_url", claims);
    if (store.clustered && claims.node !== nodeId) {
      // Signed by the cluster, but for another node (a stale URL, or a load balancer that
      // sent it to the wrong node): the client asks the registry again.
      return errorResponse(
        421,
        "wrong_node",
        `this URL is for rendezvous node ${claims.node ?? "(none)"}, this is ${nodeId}; ` +
          `ask the registry for a new one`,
      );
    }
    // URLs of a replaced registration are revoked at once, not when they expire.
    const current = await store.getRegistration<RegistrationRecord>("executor", claims.executorId);
    if (current?.registrationId !== claims.registrationId) {
      return errorResponse(
        401,
        "invalid_url",
        "this URL belongs to a registration that was replaced; register (or connect) again",
      );
    }
    const target = hub(claims.executorId);
    let forwardTo: string | undefined;
    if (claims.role === "harness" && !target.online) {
      const holder = options.router ? await store.locate(claims.executorId) : undefined;
      if (holder === undefined || holder === nodeId) {
        return errorResponse(409, "executor_offline", `executor ${claims.executorId} is offline`);
      }
      forwardTo = holder;
    }
    const label = `${claims.role} ${peer.hostname}:${peer.port}`;
    return acceptWebSocket((socket) => {
      socket.binaryType = "arraybuffer";
      if (claims.role === "executor") {
        target.attachExecutor(socket, label);
        options.router?.executorOnline(claims.executorId, target);
        claimExecutor(claims.executorId, target, socket);
      } else if (target.online) target.attachHarness(socket, label);
      else if (forwardTo !== undefined && options.router) {
        options.router.forwardHarness(socket, {
          executorId: claims.executorId,
          label,
          holder: forwardTo,
        });
      } else socket.close(1011, "executor offline");
    });
  }

  /** Holds the executor's lease while its socket is here; another node taking it wins. */
  function claimExecutor(executorId: string, target: ExecutorHub, socket: WebSocket): void {
    const failed = (error: unknown) =>
      warn(`rendezvous: cannot record executor ${executorId} in the store: ${String(error)}`);
    store.claim(executorId, (byNode) => {
      hubOptions.info(
        `rendezvous: executor ${executorId} connected to node ${byNode}; closing its sockets here`,
      );
      target.close(1000, EXECUTOR_REPLACED_REASON);
    }).catch(failed);
    socket.addEventListener("close", () => {
      if (target.online) return; // replaced by a newer socket on this node
      options.router?.executorOffline(executorId);
      store.release(executorId).catch(failed);
    });
  }

  function metrics(): Response {
    const s = stats();
    // Every hub reason is always present (a stable series from 0); cluster reasons add up.
    const drops: Record<string, number> = Object.fromEntries(DROP_REASONS.map((r) => [r, 0]));
    const depths = emptyQueueDepths();
    for (const h of allHubs()) {
      h.addQueueDepths(depths);
      for (const [reason, n] of Object.entries(h.drops)) drops[reason] += n;
    }
    options.router?.addQueueDepths(depths);
    for (const [reason, n] of Object.entries(options.router?.stats().dropsByReason ?? {})) {
      drops[reason] = (drops[reason] ?? 0) + n;
    }
    const health = store.health();
    const node = { node: nodeId };
    const families: MetricFamily[] = [
      {
        name: "rendezvous_ready",
        help: "1 when the node's registry store (NATS in a cluster) is reachable",
        type: "gauge",
        samples: [{ labels: node, value: health.ready ? 1 : 0 }],
      },
      {
        name: "rendezvous_executors_online",
        help: "Executors whose socket is on this node",
        type: "gauge",
        samples: [{ labels: node, value: s.executorsOnline }],
      },
      {
        name: "rendezvous_harness_sockets",
        help: "Harness sockets attached to this node's executors",
        type: "gauge",
        samples: [{ labels: node, value: s.harnessSockets }],
      },
      {
        name: "rendezvous_streams",
        help: "Relay streams with a known owner on this node",
        type: "gauge",
        samples: [{ labels: node, value: s.streams }],
      },
      {
        name: "rendezvous_frames_routed_total",
        help: "Relay frames forwarded by this node",
        type: "counter",
        samples: [
          { labels: { ...node, direction: "to_executor" }, value: s.framesToExecutor },
          { labels: { ...node, direction: "to_harness" }, value: s.framesToHarness },
        ],
      },
      {
        name: "rendezvous_bytes_routed_total",
        help: "Bytes of relay frames forwarded by this node",
        type: "counter",
        samples: [{ labels: node, value: s.bytesRouted }],
      },
      {
        name: "rendezvous_resets_injected_total",
        help: "Resets written to executors for harness sockets that closed",
        type: "counter",
        samples: [{ labels: node, value: s.resetsInjected }],
      },
      {
        name: "rendezvous_frames_dropped_total",
        help: "Frames dropped, by reason",
        type: "counter",
        samples: Object.entries(drops).map(([reason, value]) => ({
          labels: { ...node, reason },
          value,
        })),
      },
      {
        name: "rendezvous_socket_queue_bytes",
        help: "Bytes queued in this node for a socket that is not taking them: largest, and sum",
        type: "gauge",
        samples: [
          { labels: { ...node, stat: "max" }, value: depths.maxBytes },
          { labels: { ...node, stat: "total" }, value: depths.totalBytes },
        ],
      },
      {
        name: "rendezvous_socket_queue_frames",
        help: "Frames queued in this node for a socket: largest queue, and sum",
        type: "gauge",
        samples: [
          { labels: { ...node, stat: "max" }, value: depths.maxFrames },
          { labels: { ...node, stat: "total" }, value: depths.totalFrames },
        ],
      },
      {
        name: "rendezvous_socket_buffered_bytes",
        help: "Bytes handed to sockets and not yet sent (bufferedAmount): largest, and sum",
        type: "gauge",
        samples: [
          { labels: { ...node, stat: "max" }, value: depths.maxBuffered },
          { labels: { ...node, stat: "total" }, value: depths.totalBuffered },
        ],
      },
      ...(options.router?.metricFamilies(node) ?? []),
    ];
    return new Response(renderMetrics(families), {
      headers: { "content-type": METRICS_CONTENT_TYPE },
    });
  }

  function allHubs(): ExecutorHub[] {
    return [...hubs.values(), ...environments.hubs()];
  }

  function stats() {
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
    for (const h of allHubs()) {
      for (const key of Object.keys(h.stats) as (keyof RoutingStats)[]) {
        total[key] += h.stats[key];
      }
      if (h.online) total.executorsOnline++;
      total.harnessSockets += h.harnessCount;
      total.streams += h.streamCount;
    }
    return total;
  }

  const server = await serveHttp({
    hostname: options.hostname,
    port: options.port,
    label: "rendezvous",
    pingIntervalSeconds: options.pingIntervalSeconds,
    headDeadlineMs: options.httpDeadlineMs,
    maxConnections: options.maxConnections,
  }, (request, info) => {
    const url = new URL(request.url);
    if (url.pathname === "/readyz" && request.method === "GET") {
      const health = store.health();
      if (!store.clustered) return new Response("ok\n");
      return new Response(`${health.ready ? "ok" : "not ready"}: ${health.detail}\n`, {
        status: health.ready ? 200 : 503,
      });
    }
    if (url.pathname === "/metrics" && request.method === "GET") return metrics();
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
    const answer = match[2] === "register"
      ? register(request, executorId)
      : connect(request, executorId);
    // The store is remote in a cluster: an unreachable NATS is a retryable 503, not a crash.
    return answer.catch((error) => {
      warn(`rendezvous: registry store failed: ${(error as Error).message}`);
      return errorResponse(
        503,
        "registry_unavailable",
        `the registry store is unreachable (${store.health().detail}); retry shortly`,
      );
    });
  });
  const addr = server.addr;
  const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  return {
    url: `http://${host}:${addr.port}`,
    addr,
    nodeId,
    finished: server.finished,
    stats,
    async shutdown() {
      // Harness sockets on other nodes must not be told to close: their executors move on.
      options.router?.detach();
      for (const h of hubs.values()) h.close(1001, "rendezvous shutting down");
      environments.close(1001, "rendezvous shutting down");
      await server.shutdown();
    },
  };
}
