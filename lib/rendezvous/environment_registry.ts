/**
 * The E5 environment registry of our rendezvous (spec e5_noise.md §2.1–2.7): executors
 * register a Noise static key (`POST /cloud/environment/<ID>/register`), harnesses get a
 * single-use connection bundle (`…/connect`), executors check a harness's authorization
 * (`…/validate`), and both sides meet on signed websockets (`/relay/environment/<ID>?role=
 * environment|harness`) routed by `stream_id` like the seed-era executor hubs. The rendezvous
 * only ever sees ciphertext.
 *
 * Everything `register`, `connect` and `validate` answer from lives in the node's
 * {@linkcode RegistryStore} (memory on one node, JetStream KV in a cluster): registrations,
 * which registration's socket is attached and on which node, single-use authorizations (taken
 * by one conditional delete) and used harness-URL nonces (marked by one create). In a cluster a
 * harness socket on a node that does not hold the environment's socket is forwarded over NATS
 * like a seed-era executor's.
 * @module
 */
import { timingSafeEqual } from "node:crypto";
import {
  type HybridPublicKey,
  NoiseError,
  publicKeyFromJson,
  type PublicKeyJson,
  publicKeyToJson,
  sameHybridKey,
  SECURITY_PROFILE,
} from "../noise/mod.ts";
import { acceptWebSocket } from "../transport/http_listener.ts";
import { EXECUTOR_REPLACED_REASON } from "../relay/executor_replaced.ts";
import { ExecutorHub, type HubOptions } from "./_hub.ts";
import type { RegistryStore } from "./cluster/registry_store.ts";
import type { RendezvousRouter } from "./server.ts";

/**
 * Path prefix of environment websockets; the environment id follows.
 * @example
 * ```ts
 * import { ENVIRONMENT_RELAY_PATH } from "./environment_registry.ts";
 * `ws://127.0.0.1:9000${ENVIRONMENT_RELAY_PATH}env-1?role=harness`;
 * ```
 */
export const ENVIRONMENT_RELAY_PATH = "/relay/environment/";

const API_PATH = /^\/cloud\/environment\/([^/]+)\/(register|validate|connect)$/;
const ENVIRONMENT_ID = /^[A-Za-z0-9_-]{1,256}$/;
/** Lifetime of a harness key authorization (it is used within one handshake). */
const AUTHORIZATION_TTL_MS = 60_000;
/** Longest authorization looked up (ours are 38 characters; the rest is a forgery). */
const MAX_AUTHORIZATION_CHARS = 512;
const encoder = new TextEncoder();

/**
 * Options of {@linkcode EnvironmentRegistry}.
 * @example
 * ```ts
 * import type { EnvironmentRegistryOptions } from "./environment_registry.ts";
 * import { MemoryRegistryStore } from "./cluster/registry_store.ts";
 * declare const hub: import("./_hub.ts").HubOptions;
 * const options: EnvironmentRegistryOptions = {
 *   hub, urlTtlSeconds: 600, authorize: () => true, wsBase: () => "ws://127.0.0.1:1",
 *   store: new MemoryRegistryStore(),
 * };
 * ```
 */
export interface EnvironmentRegistryOptions {
  hub: HubOptions;
  /** Lifetime of issued websocket URLs. */
  urlTtlSeconds: number;
  /** Whether the request's bearer token is acceptable. */
  authorize: (request: Request) => boolean;
  /** `ws://HOST:PORT` base of issued URLs for this request. */
  wsBase: (request: Request) => string;
  /** Registry state (shared by every node of a cluster). */
  store: RegistryStore;
  /** Cross-node forwarding (cluster only). */
  router?: RendezvousRouter;
  /** `direct` (default): `connect` names the environment's node; `forward`: this node. */
  harnessRouting?: "direct" | "forward";
}

interface Registration {
  registrationId: string;
  executorKey: PublicKeyJson;
}

/** Which registration's environment socket is attached (the lease says on which node). */
interface SocketRecord {
  registrationId: string;
  node: string;
}

interface Ticket {
  environmentId: string;
  registrationId: string;
  harnessKey: PublicKeyJson;
}

type Role = "environment" | "harness";

interface UrlClaims {
  role: Role;
  environmentId: string;
  registrationId: string;
  nonce: string;
  expiresAt: number;
  /** The cluster node the URL is for (absent on one node). */
  node?: string;
}

function errorResponse(status: number, code: string, message: string): Response {
  return Response.json({ error: { code, message } }, { status });
}

function base64url(bytes: Uint8Array): string {
  return bytes.toBase64({ alphabet: "base64url", omitPadding: true });
}

function randomToken(): string {
  return base64url(crypto.getRandomValues(new Uint8Array(24)));
}

/**
 * The id an environment's socket is leased and routed under: executor ids cannot contain a
 * dot, so `E.<id>` never names a seed-era executor (and is one more NATS subject token).
 */
function routingId(environmentId: string): string {
  return `E.${environmentId}`;
}

/**
 * Registry endpoints and websockets of Noise environments.
 *
 * @example
 * ```ts
 * import { EnvironmentRegistry } from "./environment_registry.ts";
 * declare const options: import("./environment_registry.ts").EnvironmentRegistryOptions;
 * const registry = await EnvironmentRegistry.create(options);
 * Deno.serve((request, info) =>
 *   registry.handles(new URL(request.url).pathname)
 *     ? registry.handle(request, info.remoteAddr as Deno.NetAddr)
 *     : new Response("not found", { status: 404 })
 * );
 * ```
 */
export class EnvironmentRegistry {
  #options: EnvironmentRegistryOptions;
  #store: RegistryStore;
  #key: CryptoKey;
  /** Which registration the connected executor socket of each environment (here) belongs to. */
  #attached = new Map<string, string>();
  #hubs = new Map<string, ExecutorHub>();
  #sequence = 0;

  private constructor(options: EnvironmentRegistryOptions, key: CryptoKey) {
    this.#options = options;
    this.#store = options.store;
    this.#key = key;
  }

  /**
   * Creates a registry whose URL-signing key derives from the store's shared secret, so a URL
   * one node issues verifies on the node it names.
   */
  static async create(options: EnvironmentRegistryOptions): Promise<EnvironmentRegistry> {
    const secret = await crypto.subtle.importKey(
      "raw",
      (await options.store.signingSecret()) as Uint8Array<ArrayBuffer>,
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign"],
    );
    // A key of its own (not the seed-era signer's), so no URL of one kind verifies as the other.
    const derived = await crypto.subtle.sign(
      "HMAC",
      secret,
      encoder.encode("codex-rendezvous e5 environment urls v1"),
    );
    const key = await crypto.subtle.importKey(
      "raw",
      derived,
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign"],
    );
    return new EnvironmentRegistry(options, key);
  }

  /** Every hub (for stats). */
  hubs(): Iterable<ExecutorHub> {
    return this.#hubs.values();
  }

  /** Whether `pathname` is one of ours. */
  handles(pathname: string): boolean {
    return pathname.startsWith(ENVIRONMENT_RELAY_PATH) || API_PATH.test(pathname);
  }

  /** Answers a registry call or a websocket upgrade. */
  handle(request: Request, peer: Deno.NetAddr): Promise<Response> | Response {
    // The store is remote in a cluster: an unreachable NATS is a retryable 503, not a crash.
    return this.#route(request, peer).catch((error) => {
      this.#options.hub.log(`rendezvous: registry store failed: ${(error as Error).message}`);
      return errorResponse(
        503,
        "registry_unavailable",
        `the registry store is unreachable (${this.#store.health().detail}); retry shortly`,
      );
    });
  }

  async #route(request: Request, peer: Deno.NetAddr): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname.startsWith(ENVIRONMENT_RELAY_PATH)) {
      return await this.#upgrade(request, url, peer);
    }
    const match = API_PATH.exec(url.pathname)!;
    if (request.method !== "POST") return errorResponse(405, "method_not_allowed", "use POST");
    if (!this.#options.authorize(request)) {
      return errorResponse(
        401,
        "unauthorized",
        "missing or wrong bearer token (Authorization: Bearer <token>)",
      );
    }
    const environmentId = match[1];
    if (!ENVIRONMENT_ID.test(environmentId)) {
      return errorResponse(
        400,
        "invalid_environment_id",
        "environment ids are 1-256 ASCII letters, digits, '-' or '_'",
      );
    }
    switch (match[2]) {
      case "register":
        return await this.#register(request, environmentId);
      case "validate":
        return await this.#validate(request, environmentId);
      default:
        return await this.#connect(request, environmentId);
    }
  }

  /** Closes every socket. */
  close(code: number, reason: string): void {
    for (const hub of this.#hubs.values()) hub.close(code, reason);
  }

  #hub(environmentId: string): ExecutorHub {
    let hub = this.#hubs.get(environmentId);
    if (!hub) {
      hub = new ExecutorHub(environmentId, this.#options.hub);
      this.#hubs.set(environmentId, hub);
    }
    return hub;
  }

  async #body(request: Request): Promise<Record<string, unknown> | Response> {
    let body: unknown;
    try {
      body = await request.json();
    } catch {
      return errorResponse(400, "invalid_request", "the body must be a JSON object");
    }
    if (typeof body !== "object" || body === null || Array.isArray(body)) {
      return errorResponse(400, "invalid_request", "the body must be a JSON object");
    }
    return body as Record<string, unknown>;
  }

  #key_(value: unknown, name: string): HybridPublicKey | Response {
    try {
      return publicKeyFromJson(value);
    } catch (error) {
      if (!(error instanceof NoiseError)) throw error;
      return errorResponse(400, "invalid_public_key", `${name}: ${error.message}`);
    }
  }

  /** `ws://` base of `node`'s websockets: ours from the request, another's from its lease. */
  async #base(request: Request, node: string): Promise<string | undefined> {
    if (node === this.#store.nodeId) return this.#options.wsBase(request);
    return await this.#store.nodeUrl(node);
  }

  /** Claims in a URL for `node` (a cluster names it; one node does not). */
  #claims(claims: Omit<UrlClaims, "node">, node: string): UrlClaims {
    return this.#store.clustered ? { ...claims, node } : claims;
  }

  async #register(request: Request, environmentId: string): Promise<Response> {
    const body = await this.#body(request);
    if (body instanceof Response) return body;
    if (body.security_profile !== SECURITY_PROFILE) {
      return errorResponse(
        400,
        "unsupported_security_profile",
        `this registry serves Noise environments only: send security_profile ${SECURITY_PROFILE} and executor_public_key`,
      );
    }
    const key = this.#key_(body.executor_public_key, "executor_public_key");
    if (key instanceof Response) return key;
    const registrationId = `reg_${++this.#sequence}_${crypto.randomUUID()}`;
    await this.#store.putRegistration(
      "environment",
      environmentId,
      {
        registrationId,
        executorKey: publicKeyToJson(key),
      } satisfies Registration,
    );
    this.#options.hub.info(
      `rendezvous: environment ${environmentId} registered (${registrationId})`,
    );
    const url = await this.#sign(
      this.#options.wsBase(request),
      this.#claims({
        role: "environment",
        environmentId,
        registrationId,
        nonce: randomToken(),
        expiresAt: Math.floor(Date.now() / 1000 + this.#options.urlTtlSeconds),
      }, this.#store.nodeId),
    );
    // Exactly these four members: upstream 0.169.0 rejects any other.
    return Response.json({
      environment_id: environmentId,
      url,
      security_profile: SECURITY_PROFILE,
      executor_registration_id: registrationId,
    });
  }

  /**
   * The registration and the node holding its environment socket (undefined: offline), read
   * in one round of parallel store lookups.
   */
  async #lookup(
    environmentId: string,
  ): Promise<{ registration?: Registration; holder?: string }> {
    const local = this.#hubs.get(environmentId)?.online
      ? this.#attached.get(environmentId)
      : undefined;
    const remote = !this.#store.clustered || local !== undefined;
    const [registration, leaseHolder, socket] = await Promise.all([
      this.#store.getRegistration<Registration>("environment", environmentId),
      remote ? undefined : this.#store.locate(routingId(environmentId)),
      remote
        ? undefined
        : this.#store.getRegistration<SocketRecord>("environment_socket", environmentId),
    ]);
    if (!registration) return {};
    if (local === registration.registrationId) return { registration, holder: this.#store.nodeId };
    // The socket another node holds must be the current registration's (same key).
    const current = leaseHolder !== undefined && leaseHolder !== this.#store.nodeId &&
      socket?.registrationId === registration.registrationId && socket.node === leaseHolder;
    return { registration, holder: current ? leaseHolder : undefined };
  }

  async #connect(request: Request, environmentId: string): Promise<Response> {
    const body = await this.#body(request);
    if (body instanceof Response) return body;
    const harnessKey = this.#key_(body.harness_public_key, "harness_public_key");
    if (harnessKey instanceof Response) return harnessKey;
    const { registration, holder } = await this.#lookup(environmentId);
    if (!registration) {
      return errorResponse(
        404,
        "unknown_environment",
        `environment ${environmentId} is not registered`,
      );
    }
    const offline = () =>
      errorResponse(
        409,
        "environment_offline",
        `environment ${environmentId} is registered but its executor is not connected; retry`,
      );
    if (holder === undefined) return offline();
    const node = holder === this.#store.nodeId || this.#options.harnessRouting !== "forward" ||
        !this.#options.router
      ? holder
      : this.#store.nodeId;
    const authorization = `authz_${randomToken()}`;
    const [base, stored] = await Promise.all([
      this.#base(request, node),
      this.#store.putTicket(
        authorization,
        {
          environmentId,
          registrationId: registration.registrationId,
          harnessKey: publicKeyToJson(harnessKey),
        } satisfies Ticket,
        Date.now() + AUTHORIZATION_TTL_MS,
      ),
    ]);
    if (!stored) {
      return errorResponse(503, "busy", "too many outstanding connection bundles; retry later");
    }
    if (base === undefined) return offline();
    // A harness URL is single-use: it must expire before the store forgets its nonce.
    const lifetime = Math.min(this.#options.urlTtlSeconds, this.#store.usedTtlMs / 1000);
    const url = await this.#sign(
      base,
      this.#claims({
        role: "harness",
        environmentId,
        registrationId: registration.registrationId,
        nonce: randomToken(),
        expiresAt: Math.floor(Date.now() / 1000 + lifetime),
      }, node),
    );
    return Response.json({
      environment_id: environmentId,
      url,
      security_profile: SECURITY_PROFILE,
      executor_registration_id: registration.registrationId,
      executor_public_key: registration.executorKey,
      harness_key_authorization: authorization,
    });
  }

  async #validate(request: Request, environmentId: string): Promise<Response> {
    const body = await this.#body(request);
    if (body instanceof Response) return body;
    const harnessKey = this.#key_(body.harness_public_key, "harness_public_key");
    if (harnessKey instanceof Response) return harnessKey;
    const authorization = body.harness_key_authorization;
    if (typeof authorization !== "string" || authorization === "") {
      return errorResponse(400, "invalid_request", "harness_key_authorization must be a string");
    }
    // Single use: whatever the verdict, this authorization is spent (on every node).
    const [ticket, registration] = await Promise.all([
      authorization.length <= MAX_AUTHORIZATION_CHARS
        ? this.#store.takeTicket<Ticket>(authorization)
        : undefined,
      this.#store.getRegistration<Registration>("environment", environmentId),
    ]);
    let valid = ticket !== undefined &&
      ticket.environmentId === environmentId &&
      registration !== undefined &&
      ticket.registrationId === registration.registrationId &&
      body.executor_registration_id === registration.registrationId;
    if (valid) {
      try {
        valid = sameHybridKey(publicKeyFromJson(ticket!.harnessKey), harnessKey);
      } catch {
        valid = false;
      }
    }
    if (!valid) {
      this.#options.hub.debug(
        `rendezvous: environment ${environmentId}: refused a harness authorization`,
      );
    }
    return Response.json({ valid });
  }

  async #mac(claims: UrlClaims): Promise<string> {
    const fields: (string | number)[] = [
      claims.role,
      claims.environmentId,
      claims.registrationId,
      claims.nonce,
      claims.expiresAt,
    ];
    if (claims.node !== undefined) fields.push(`node=${claims.node}`);
    return base64url(
      new Uint8Array(
        await crypto.subtle.sign("HMAC", this.#key, encoder.encode(fields.join("\n"))),
      ),
    );
  }

  async #sign(wsBase: string, claims: UrlClaims): Promise<string> {
    const query = new URLSearchParams({
      role: claims.role,
      reg: claims.registrationId,
      n: claims.nonce,
      exp: String(claims.expiresAt),
      ...(claims.node !== undefined ? { node: claims.node } : {}),
      sig: await this.#mac(claims),
    });
    return `${wsBase}${ENVIRONMENT_RELAY_PATH}${claims.environmentId}?${query}`;
  }

  /** The claims of a URL, or `[status, code, why]` it is refused. */
  async #verify(url: URL): Promise<UrlClaims | [number, string, string]> {
    const refused = (why: string): [number, string, string] => [401, "invalid_url", why];
    const role = url.searchParams.get("role");
    if (role !== "environment" && role !== "harness") {
      return refused("role must be environment or harness");
    }
    let environmentId: string;
    try {
      environmentId = decodeURIComponent(url.pathname.slice(ENVIRONMENT_RELAY_PATH.length));
    } catch {
      return refused("bad environment id encoding");
    }
    const node = url.searchParams.get("node") ?? undefined;
    const claims: UrlClaims = {
      role,
      environmentId,
      registrationId: url.searchParams.get("reg") ?? "",
      nonce: url.searchParams.get("n") ?? "",
      expiresAt: Number(url.searchParams.get("exp")),
      ...(node !== undefined ? { node } : {}),
    };
    if (!Number.isInteger(claims.expiresAt)) return refused("missing expiry");
    const expected = encoder.encode(await this.#mac(claims));
    const given = encoder.encode(url.searchParams.get("sig") ?? "");
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return refused("bad signature (the URL was not issued by this rendezvous, or it restarted)");
    }
    if (claims.expiresAt < Date.now() / 1000) {
      return refused("URL expired; ask the registry for a new one");
    }
    if (this.#store.clustered && claims.node !== this.#store.nodeId) {
      // Signed by the cluster but for another node: the caller asks the registry again.
      return [
        421,
        "wrong_node",
        `this URL is for rendezvous node ${
          claims.node ?? "(none)"
        }, this is ${this.#store.nodeId}; ask the registry for a new one`,
      ];
    }
    const registration = await this.#store.getRegistration<Registration>(
      "environment",
      claims.environmentId,
    );
    if (registration?.registrationId !== claims.registrationId) {
      return refused(
        "the registration this URL belongs to was replaced; register (or connect) again",
      );
    }
    if (claims.role === "harness") {
      // One create in the shared store: a URL replayed on any node finds its nonce taken.
      if (!(await this.#store.markUsed(claims.nonce, claims.expiresAt * 1000))) {
        return refused("harness URLs are single-use; connect again");
      }
    }
    return claims;
  }

  async #upgrade(request: Request, url: URL, peer: Deno.NetAddr): Promise<Response> {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return errorResponse(426, "upgrade_required", "expected a websocket upgrade");
    }
    const claims = await this.#verify(url);
    if (Array.isArray(claims)) return errorResponse(...claims);
    const environmentId = claims.environmentId;
    const hub = this.#hub(environmentId);
    let forwardTo: string | undefined;
    if (claims.role === "harness" && !hub.online) {
      const holder = this.#options.router
        ? await this.#store.locate(routingId(environmentId))
        : undefined;
      if (holder === undefined || holder === this.#store.nodeId) {
        return errorResponse(409, "environment_offline", `environment ${environmentId} is offline`);
      }
      forwardTo = holder;
    }
    const label = `${claims.role} ${peer.hostname}:${peer.port}`;
    return acceptWebSocket((socket) => {
      socket.binaryType = "arraybuffer";
      if (claims.role === "environment") {
        this.#attachEnvironment(socket, hub, claims, label);
      } else if (hub.online) {
        hub.attachHarness(socket, label);
      } else if (forwardTo !== undefined && this.#options.router) {
        this.#options.router.forwardHarness(socket, {
          executorId: routingId(environmentId),
          label,
          holder: forwardTo,
        });
      } else {
        socket.close(1011, "environment offline");
      }
    });
  }

  /** Routes an environment socket here, and records (lease + socket record) that it is here. */
  #attachEnvironment(socket: WebSocket, hub: ExecutorHub, claims: UrlClaims, label: string) {
    const environmentId = claims.environmentId;
    const id = routingId(environmentId);
    const store = this.#store;
    const failed = (error: unknown) =>
      this.#options.hub.log(
        `rendezvous: cannot record environment ${environmentId} in the store: ${String(error)}`,
      );
    this.#attached.set(environmentId, claims.registrationId);
    hub.attachExecutor(socket, label);
    this.#options.router?.executorOnline(id, hub);
    (async () => {
      // The socket record first: a `connect` elsewhere that sees the lease finds it current.
      await store.putRegistration(
        "environment_socket",
        environmentId,
        {
          registrationId: claims.registrationId,
          node: store.nodeId,
        } satisfies SocketRecord,
      );
      await store.claim(id, (byNode) => {
        this.#options.hub.info(
          `rendezvous: environment ${environmentId} connected to node ${byNode}; closing its sockets here`,
        );
        hub.close(1000, EXECUTOR_REPLACED_REASON);
      });
    })().catch(failed);
    socket.addEventListener("close", () => {
      if (hub.online) return; // replaced by a newer socket on this node
      this.#attached.delete(environmentId);
      this.#options.router?.executorOffline(id);
      store.release(id).catch(failed);
    });
  }
}
