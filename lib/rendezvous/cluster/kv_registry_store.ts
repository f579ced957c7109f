/**
 * {@linkcode RegistryStore} on NATS JetStream KV, shared by every node of a cluster:
 *
 * - bucket `rdv_registry` (no expiry): `reg.<kind>.<id>` registration documents and
 *   `secret.url-signing` (created once by whichever node starts first);
 * - bucket `rdv_leases` (entries expire after the lease TTL, a bucket property): `exec.<id>` =
 *   the node holding that executor's socket, `node.<id>` = that node's websocket base URL.
 *   Each node re-writes its own leases every third of the TTL; a node that dies stops, and its
 *   leases vanish within one TTL;
 * - bucket `rdv_tickets` (entries expire after 60 s): `t.<key>` single-use E5 harness key
 *   authorizations, taken by one conditional delete (CAS on the revision), so one ticket
 *   validates once across every node;
 * - bucket `rdv_used` (entries expire after `usedTtlMs`, default 1 h): `u.<nonce>` used harness
 *   URL nonces, marked by one `create` (which fails when the key exists).
 * @module
 */
import type { NatsConnection } from "@nats-io/nats-core";
import { type KV, Kvm } from "@nats-io/kv";
import type { RegistrationKind, RegistryStore, StoreHealth } from "./registry_store.ts";

/**
 * Options of {@linkcode KvRegistryStore.open}.
 * @example
 * ```ts
 * import type { KvStoreOptions } from "./kv_registry_store.ts";
 * const options: KvStoreOptions = { nodeId: "n1", nodeUrl: "ws://10.0.0.1:9000", leaseTtlMs: 15_000 };
 * ```
 */
export interface KvStoreOptions {
  nodeId: string;
  /** This node's `ws://` base (what `connect` on another node names for its executors). */
  nodeUrl: string;
  /** Lease TTL used when this node creates the lease bucket. Default 15 s. */
  leaseTtlMs?: number;
  /** How long used single-use tokens are kept, if this node creates that bucket. Default 1 h. */
  usedTtlMs?: number;
  /** Warnings (lost leases, failed keepalives). */
  log?: (line: string) => void;
}

const REGISTRY_BUCKET = "rdv_registry";
const LEASE_BUCKET = "rdv_leases";
const TICKET_BUCKET = "rdv_tickets";
const USED_BUCKET = "rdv_used";
const SECRET_KEY = "secret.url-signing";
/** Tickets outlive their 60 s authorization lifetime a little; their record holds the expiry. */
const TICKET_TTL_MS = 90_000;
/** Size bound of each single-use bucket: a flood of `connect`s gets 503, not a full disk. */
const SINGLE_USE_MAX_BYTES = 256 * 1024 * 1024;
const PLAIN_ID = /^[A-Za-z0-9_-]{1,256}$/;

/** KV keys allow `[-/_=.A-Za-z0-9]`: other ids are stored base64url-encoded behind `=`. */
function keyId(id: string): string {
  if (PLAIN_ID.test(id)) return id;
  const bytes = new TextEncoder().encode(id);
  return "=" + btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_")
    .replace(/=+$/, "");
}

async function openBucket(
  kvm: Kvm,
  name: string,
  ttlMs?: number,
  maxBytes?: number,
): Promise<KV> {
  try {
    return await kvm.create(name, {
      history: 1,
      ...(ttlMs ? { ttl: ttlMs } : {}),
      ...(maxBytes ? { max_bytes: maxBytes } : {}),
    });
  } catch {
    // Another node created it first (possibly with another TTL): use it as it is.
    return await kvm.open(name);
  }
}

/**
 * The cluster registry state in JetStream KV.
 *
 * @example
 * ```ts
 * import { connect } from "@nats-io/transport-node";
 * import { KvRegistryStore } from "./kv_registry_store.ts";
 * const nc = await connect({ servers: "nats://127.0.0.1:4222" });
 * const store = await KvRegistryStore.open(nc, { nodeId: "n1", nodeUrl: "ws://127.0.0.1:9000" });
 * await store.claim("e1");
 * await store.locate("e1"); // "n1" on every node
 * await store.close();
 * ```
 */
export class KvRegistryStore implements RegistryStore {
  readonly nodeId: string;
  readonly clustered = true;
  readonly leaseTtlMs: number;
  readonly usedTtlMs: number;
  #nc: NatsConnection;
  #registry: KV;
  #leases: KV;
  #tickets: KV;
  #used: KV;
  #nodeUrl: string;
  #log: (line: string) => void;
  /** Executors this node holds, with the callback for when another node takes one. */
  #claimed = new Map<string, ((byNode: string) => void) | undefined>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #keepaliveRunning = false;
  #lastKeepaliveError: string | undefined;
  #secret: Uint8Array | undefined;
  /** Why the NATS link is down, while it is (the client reconnects by itself). */
  #linkDown: string | undefined;

  private constructor(nc: NatsConnection, buckets: {
    registry: KV;
    leases: KV;
    tickets: KV;
    used: KV;
  }, options: {
    ttlMs: number;
    usedTtlMs: number;
    nodeId: string;
    nodeUrl: string;
    log: (line: string) => void;
  }) {
    this.#nc = nc;
    this.#registry = buckets.registry;
    this.#leases = buckets.leases;
    this.#tickets = buckets.tickets;
    this.#used = buckets.used;
    this.leaseTtlMs = options.ttlMs;
    this.usedTtlMs = options.usedTtlMs;
    this.nodeId = options.nodeId;
    this.#nodeUrl = options.nodeUrl;
    this.#log = options.log;
  }

  /** Opens (creating when missing) the buckets, publishes this node's lease, starts keepalives. */
  static async open(nc: NatsConnection, options: KvStoreOptions): Promise<KvRegistryStore> {
    const kvm = new Kvm(nc);
    const registry = await openBucket(kvm, REGISTRY_BUCKET);
    const leases = await openBucket(kvm, LEASE_BUCKET, options.leaseTtlMs ?? 15_000);
    const ttlMs = (await leases.status()).ttl || (options.leaseTtlMs ?? 15_000);
    const tickets = await openBucket(kvm, TICKET_BUCKET, TICKET_TTL_MS, SINGLE_USE_MAX_BYTES);
    const used = await openBucket(
      kvm,
      USED_BUCKET,
      options.usedTtlMs ?? 3_600_000,
      SINGLE_USE_MAX_BYTES,
    );
    // The bucket's own TTL counts (another node may have created it with another one).
    const usedTtlMs = (await used.status()).ttl || (options.usedTtlMs ?? 3_600_000);
    const store = new KvRegistryStore(nc, { registry, leases, tickets, used }, {
      ttlMs,
      usedTtlMs,
      nodeId: options.nodeId,
      nodeUrl: options.nodeUrl,
      log: options.log ?? (() => {}),
    });
    await store.#putNode();
    await store.signingSecret();
    store.#watchLink();
    store.#timer = setInterval(() => store.#keepalive(), Math.max(100, ttlMs / 3));
    return store;
  }

  async getRegistration<T>(kind: RegistrationKind, id: string): Promise<T | undefined> {
    const entry = await this.#registry.get(`reg.${kind}.${keyId(id)}`);
    if (!entry || entry.operation !== "PUT" || entry.length === 0) return undefined;
    return entry.json<T>();
  }

  async putRegistration(kind: RegistrationKind, id: string, record: unknown): Promise<void> {
    await this.#registry.put(`reg.${kind}.${keyId(id)}`, JSON.stringify(record));
  }

  async claim(executorId: string, onLost?: (byNode: string) => void): Promise<void> {
    this.#claimed.set(executorId, onLost);
    // The newest socket wins, as on one node: overwrite whoever held it.
    await this.#leases.put(`exec.${executorId}`, this.nodeId);
  }

  async release(executorId: string): Promise<void> {
    this.#claimed.delete(executorId);
    const key = `exec.${executorId}`;
    const entry = await this.#leases.get(key);
    if (!entry || entry.operation !== "PUT" || entry.string() !== this.nodeId) return;
    try {
      await this.#leases.delete(key, { previousSeq: entry.revision });
    } catch {
      // Another node claimed it in between: its lease stays.
    }
  }

  async locate(executorId: string): Promise<string | undefined> {
    const entry = await this.#leases.get(`exec.${executorId}`);
    if (!entry || entry.operation !== "PUT" || entry.length === 0) return undefined;
    return entry.string();
  }

  async nodeUrl(nodeId: string): Promise<string | undefined> {
    if (nodeId === this.nodeId) return this.#nodeUrl;
    const entry = await this.#leases.get(`node.${keyId(nodeId)}`);
    if (!entry || entry.operation !== "PUT" || entry.length === 0) return undefined;
    return entry.json<{ url: string }>().url;
  }

  async nodeAlive(nodeId: string): Promise<boolean> {
    return nodeId === this.nodeId || (await this.nodeUrl(nodeId)) !== undefined;
  }

  async putTicket(key: string, record: unknown, expiresAtMs: number): Promise<boolean> {
    try {
      await this.#tickets.create(`t.${keyId(key)}`, JSON.stringify({ record, expiresAtMs }));
      return true;
    } catch (error) {
      // A full bucket (discard new) is "busy"; anything else (NATS down) is the caller's 503.
      if (/maximum bytes|resources exceeded|wrong last sequence/i.test((error as Error).message)) {
        return false;
      }
      throw error;
    }
  }

  async takeTicket<T>(key: string): Promise<T | undefined> {
    const name = `t.${keyId(key)}`;
    const entry = await this.#tickets.get(name);
    if (!entry || entry.operation !== "PUT" || entry.length === 0) return undefined;
    try {
      // Conditional on the revision read: of concurrent takers only one delete succeeds.
      await this.#tickets.delete(name, { previousSeq: entry.revision });
    } catch {
      return undefined;
    }
    const { record, expiresAtMs } = entry.json<{ record: T; expiresAtMs: number }>();
    return expiresAtMs > Date.now() ? record : undefined;
  }

  async markUsed(token: string, _expiresAtMs: number): Promise<boolean> {
    try {
      await this.#used.create(`u.${keyId(token)}`, "1");
      return true;
    } catch (error) {
      if (
        !this.#nc.isClosed() &&
        /wrong last sequence|exists|maximum bytes|resources exceeded/i.test(
          (error as Error).message,
        )
      ) {
        return false;
      }
      throw error;
    }
  }

  async signingSecret(): Promise<Uint8Array> {
    if (this.#secret) return this.#secret;
    const fresh = crypto.getRandomValues(new Uint8Array(32));
    try {
      await this.#registry.create(SECRET_KEY, fresh);
    } catch {
      // Another node created it first; everyone uses that one.
    }
    const entry = await this.#registry.get(SECRET_KEY);
    if (!entry || entry.length !== 32) {
      throw new Error(`KV key ${REGISTRY_BUCKET}/${SECRET_KEY} is missing or not 32 bytes`);
    }
    this.#secret = entry.value.slice();
    return this.#secret;
  }

  async #watchLink(): Promise<void> {
    for await (const status of this.#nc.status()) {
      if (status.type === "disconnect") {
        this.#linkDown = `disconnected from ${status.server}`;
        this.#log(`rendezvous: NATS link lost (${status.server}); reconnecting`);
      } else if (status.type === "reconnect") {
        this.#linkDown = undefined;
        this.#log(`rendezvous: NATS link back (${status.server})`);
        // Leases may have expired meanwhile: write them again at once.
        this.#keepalive();
      }
    }
  }

  health(): StoreHealth {
    if (this.#nc.isClosed()) return { ready: false, detail: "NATS connection closed" };
    if (this.#linkDown) return { ready: false, detail: `NATS ${this.#linkDown}` };
    if (this.#lastKeepaliveError) {
      return { ready: false, detail: `NATS: ${this.#lastKeepaliveError}` };
    }
    return { ready: true, detail: `NATS ${this.#nc.getServer()}, node ${this.nodeId}` };
  }

  get claimedCount(): number {
    return this.#claimed.size;
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    const mine = [...this.#claimed.keys()];
    this.#claimed.clear();
    // Best effort: a node shutting down cleanly frees its executors at once instead of after
    // one TTL (a killed node cannot; its leases simply expire).
    await Promise.allSettled([
      ...mine.map((id) => this.#deleteIfMine(`exec.${id}`)),
      this.#deleteIfMine(`node.${keyId(this.nodeId)}`),
    ]);
  }

  async #deleteIfMine(key: string): Promise<void> {
    const entry = await this.#leases.get(key);
    if (!entry || entry.operation !== "PUT") return;
    if (key.startsWith("exec.") && entry.string() !== this.nodeId) return;
    await this.#leases.delete(key, { previousSeq: entry.revision });
  }

  async #putNode(): Promise<void> {
    await this.#leases.put(
      `node.${keyId(this.nodeId)}`,
      JSON.stringify({ url: this.#nodeUrl, at: Date.now() }),
    );
  }

  /** Re-writes this node's leases; finds executors another node has taken since. */
  async #keepalive(): Promise<void> {
    if (this.#keepaliveRunning || this.#nc.isClosed()) return;
    this.#keepaliveRunning = true;
    try {
      await this.#putNode();
      await Promise.all([...this.#claimed.keys()].map((id) => this.#renew(id)));
      if (this.#lastKeepaliveError) this.#log(`rendezvous: NATS leases renewed again`);
      this.#lastKeepaliveError = undefined;
    } catch (error) {
      const message = (error as Error).message;
      if (this.#lastKeepaliveError === undefined) {
        this.#log(`rendezvous: cannot renew leases in NATS KV: ${message}`);
      }
      this.#lastKeepaliveError = message;
    } finally {
      this.#keepaliveRunning = false;
    }
  }

  async #renew(executorId: string): Promise<void> {
    const key = `exec.${executorId}`;
    const entry = await this.#leases.get(key);
    const holder = entry && entry.operation === "PUT" ? entry.string() : undefined;
    if (!this.#claimed.has(executorId)) return;
    if (holder !== undefined && holder !== this.nodeId) {
      const onLost = this.#claimed.get(executorId);
      this.#claimed.delete(executorId);
      onLost?.(holder);
      return;
    }
    try {
      // Conditional: a claim by another node between our read and this write wins.
      if (entry && holder === this.nodeId) {
        await this.#leases.update(key, this.nodeId, entry.revision);
      } else await this.#leases.create(key, this.nodeId);
    } catch {
      // Lost the race; the next round sees who holds it now.
    }
  }
}
