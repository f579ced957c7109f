/**
 * The E5 environment registry of our rendezvous (spec e5_noise.md §2.1–2.7): executors
 * register a Noise static key (`POST /cloud/environment/<ID>/register`), harnesses get a
 * single-use connection bundle (`…/connect`), executors check a harness's authorization
 * (`…/validate`), and both sides meet on signed websockets (`/relay/environment/<ID>?role=
 * environment|harness`) routed by `stream_id` like the seed-era executor hubs. The rendezvous
 * only ever sees ciphertext.
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
import { ExecutorHub, type HubOptions } from "./_hub.ts";

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
/** Outstanding authorizations and used harness URL nonces kept at most. */
const MAX_TICKETS = 65_536;
const encoder = new TextEncoder();

/**
 * Options of {@linkcode EnvironmentRegistry}.
 * @example
 * ```ts
 * import type { EnvironmentRegistryOptions } from "./environment_registry.ts";
 * declare const hub: import("./_hub.ts").HubOptions;
 * const options: EnvironmentRegistryOptions = { hub, urlTtlSeconds: 600, authorize: () => true, wsBase: () => "ws://127.0.0.1:1" };
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
}

interface Registration {
  registrationId: string;
  executorKey: PublicKeyJson;
}

interface Ticket {
  environmentId: string;
  registrationId: string;
  harnessKey: HybridPublicKey;
  expiresAt: number;
}

type Role = "environment" | "harness";

interface UrlClaims {
  role: Role;
  environmentId: string;
  registrationId: string;
  nonce: string;
  expiresAt: number;
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
  #key: CryptoKey;
  #registrations = new Map<string, Registration>();
  /** Which registration the connected executor socket of each environment belongs to. */
  #attached = new Map<string, string>();
  #hubs = new Map<string, ExecutorHub>();
  #tickets = new Map<string, Ticket>();
  #usedNonces = new Map<string, number>();
  #sequence = 0;

  private constructor(options: EnvironmentRegistryOptions, key: CryptoKey) {
    this.#options = options;
    this.#key = key;
  }

  /** Creates a registry with a fresh URL-signing key. */
  static async create(options: EnvironmentRegistryOptions): Promise<EnvironmentRegistry> {
    const key = await crypto.subtle.importKey(
      "raw",
      crypto.getRandomValues(new Uint8Array(32)),
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
    const url = new URL(request.url);
    if (url.pathname.startsWith(ENVIRONMENT_RELAY_PATH)) return this.#upgrade(request, url, peer);
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
        return this.#register(request, environmentId);
      case "validate":
        return this.#validate(request, environmentId);
      default:
        return this.#connect(request, environmentId);
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
    this.#registrations.set(environmentId, {
      registrationId,
      executorKey: publicKeyToJson(key),
    });
    this.#options.hub.info(
      `rendezvous: environment ${environmentId} registered (${registrationId})`,
    );
    const url = await this.#sign(this.#options.wsBase(request), {
      role: "environment",
      environmentId,
      registrationId,
      nonce: randomToken(),
      expiresAt: Math.floor(Date.now() / 1000 + this.#options.urlTtlSeconds),
    });
    // Exactly these four members: upstream 0.169.0 rejects any other.
    return Response.json({
      environment_id: environmentId,
      url,
      security_profile: SECURITY_PROFILE,
      executor_registration_id: registrationId,
    });
  }

  async #connect(request: Request, environmentId: string): Promise<Response> {
    const body = await this.#body(request);
    if (body instanceof Response) return body;
    const harnessKey = this.#key_(body.harness_public_key, "harness_public_key");
    if (harnessKey instanceof Response) return harnessKey;
    const registration = this.#registrations.get(environmentId);
    if (!registration) {
      return errorResponse(
        404,
        "unknown_environment",
        `environment ${environmentId} is not registered`,
      );
    }
    const hub = this.#hubs.get(environmentId);
    if (!hub?.online || this.#attached.get(environmentId) !== registration.registrationId) {
      return errorResponse(
        409,
        "environment_offline",
        `environment ${environmentId} is registered but its executor is not connected; retry`,
      );
    }
    this.#sweep();
    if (this.#tickets.size >= MAX_TICKETS) {
      return errorResponse(503, "busy", "too many outstanding connection bundles; retry later");
    }
    const authorization = `authz_${randomToken()}`;
    this.#tickets.set(authorization, {
      environmentId,
      registrationId: registration.registrationId,
      harnessKey,
      expiresAt: Date.now() + AUTHORIZATION_TTL_MS,
    });
    const url = await this.#sign(this.#options.wsBase(request), {
      role: "harness",
      environmentId,
      registrationId: registration.registrationId,
      nonce: randomToken(),
      expiresAt: Math.floor(Date.now() / 1000 + this.#options.urlTtlSeconds),
    });
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
    // Single use: whatever the verdict, this authorization is spent.
    const ticket = this.#tickets.get(authorization);
    this.#tickets.delete(authorization);
    const registration = this.#registrations.get(environmentId);
    const valid = ticket !== undefined &&
      ticket.expiresAt > Date.now() &&
      ticket.environmentId === environmentId &&
      registration !== undefined &&
      ticket.registrationId === registration.registrationId &&
      body.executor_registration_id === registration.registrationId &&
      sameHybridKey(ticket.harnessKey, harnessKey);
    if (!valid) {
      this.#options.hub.debug(
        `rendezvous: environment ${environmentId}: refused a harness authorization`,
      );
    }
    return Response.json({ valid });
  }

  #sweep(): void {
    const now = Date.now();
    for (const [key, ticket] of this.#tickets) {
      if (ticket.expiresAt <= now) this.#tickets.delete(key);
    }
    const nowSeconds = now / 1000;
    for (const [nonce, exp] of this.#usedNonces) {
      if (exp < nowSeconds) this.#usedNonces.delete(nonce);
    }
  }

  async #mac(claims: UrlClaims): Promise<string> {
    const text = [
      claims.role,
      claims.environmentId,
      claims.registrationId,
      claims.nonce,
      claims.expiresAt,
    ].join("\n");
    return base64url(
      new Uint8Array(await crypto.subtle.sign("HMAC", this.#key, encoder.encode(text))),
    );
  }

  async #sign(wsBase: string, claims: UrlClaims): Promise<string> {
    const query = new URLSearchParams({
      role: claims.role,
      reg: claims.registrationId,
      n: claims.nonce,
      exp: String(claims.expiresAt),
      sig: await this.#mac(claims),
    });
    return `${wsBase}${ENVIRONMENT_RELAY_PATH}${claims.environmentId}?${query}`;
  }

  async #verify(url: URL): Promise<UrlClaims | string> {
    const role = url.searchParams.get("role");
    if (role !== "environment" && role !== "harness") return "role must be environment or harness";
    const claims: UrlClaims = {
      role,
      environmentId: decodeURIComponent(url.pathname.slice(ENVIRONMENT_RELAY_PATH.length)),
      registrationId: url.searchParams.get("reg") ?? "",
      nonce: url.searchParams.get("n") ?? "",
      expiresAt: Number(url.searchParams.get("exp")),
    };
    if (!Number.isInteger(claims.expiresAt)) return "missing expiry";
    const expected = encoder.encode(await this.#mac(claims));
    const given = encoder.encode(url.searchParams.get("sig") ?? "");
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return "bad signature (the URL was not issued by this rendezvous, or it restarted)";
    }
    if (claims.expiresAt < Date.now() / 1000) return "URL expired; ask the registry for a new one";
    const registration = this.#registrations.get(claims.environmentId);
    if (registration?.registrationId !== claims.registrationId) {
      return "the registration this URL belongs to was replaced; register (or connect) again";
    }
    if (claims.role === "harness") {
      if (this.#usedNonces.has(claims.nonce)) return "harness URLs are single-use; connect again";
      this.#sweep();
      if (this.#usedNonces.size >= MAX_TICKETS) return "too many harness URLs in use; retry";
      this.#usedNonces.set(claims.nonce, claims.expiresAt);
    }
    return claims;
  }

  async #upgrade(request: Request, url: URL, peer: Deno.NetAddr): Promise<Response> {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return errorResponse(426, "upgrade_required", "expected a websocket upgrade");
    }
    const claims = await this.#verify(url);
    if (typeof claims === "string") return errorResponse(401, "invalid_url", claims);
    const hub = this.#hub(claims.environmentId);
    if (claims.role === "harness" && !hub.online) {
      return errorResponse(
        409,
        "environment_offline",
        `environment ${claims.environmentId} is offline`,
      );
    }
    const label = `${claims.role} ${peer.hostname}:${peer.port}`;
    return acceptWebSocket((socket) => {
      socket.binaryType = "arraybuffer";
      if (claims.role === "environment") {
        // A socket of a replaced registration must not take over from the current one.
        if (
          this.#registrations.get(claims.environmentId)?.registrationId !== claims.registrationId
        ) {
          socket.close(1008, "registration replaced");
          return;
        }
        this.#attached.set(claims.environmentId, claims.registrationId);
        hub.attachExecutor(socket, label);
      } else if (hub.online) {
        hub.attachHarness(socket, label);
      } else {
        socket.close(1011, "environment offline");
      }
    });
  }
}
