/**
 * Where a rendezvous keeps what `register`, `connect` and `validate` answer from: registration
 * documents, which node holds each executor's socket (a lease), how to reach each node and the
 * URL signing secret. One node keeps them in memory ({@linkcode MemoryRegistryStore}, the
 * default); a cluster keeps them in JetStream KV (`kv_registry_store.ts`), so every node
 * answers the same.
 * @module
 */

/**
 * The kinds of registration a store holds (seed-era executors; E5 environments).
 * @example
 * ```ts
 * import type { RegistrationKind } from "./registry_store.ts";
 * const kind: RegistrationKind = "executor";
 * ```
 */
export type RegistrationKind = "executor" | "environment" | "environment_socket";

/** Outstanding tickets, and used tokens, one memory store keeps at most. */
const MAX_SINGLE_USE = 65_536;

/**
 * Health of a store, for `/readyz` and `/metrics`.
 * @example
 * ```ts
 * import type { StoreHealth } from "./registry_store.ts";
 * const health: StoreHealth = { ready: true, detail: "in memory" };
 * ```
 */
export interface StoreHealth {
  /** Whether register/connect can be answered (in a cluster: NATS is reachable). */
  ready: boolean;
  /** One line for `/readyz`: why it is (not) ready. */
  detail: string;
}

/**
 * The registry state of a rendezvous node.
 *
 * @example
 * ```ts
 * import { MemoryRegistryStore, type RegistryStore } from "./registry_store.ts";
 * const store: RegistryStore = new MemoryRegistryStore("n1");
 * await store.putRegistration("executor", "e1", { registrationId: "reg_1" });
 * await store.claim("e1");
 * await store.locate("e1"); // "n1"
 * ```
 */
export interface RegistryStore {
  /** This node's id (`--node-id`). */
  readonly nodeId: string;
  /** Whether URLs carry the node they are for (cluster) or not (one node). */
  readonly clustered: boolean;
  /** A registration document, or undefined. */
  getRegistration<T>(kind: RegistrationKind, id: string): Promise<T | undefined>;
  /** Stores (replaces) a registration document (JSON-serialisable). */
  putRegistration(kind: RegistrationKind, id: string, record: unknown): Promise<void>;
  /**
   * Records that this node holds the executor's socket; the store keeps the lease alive
   * until {@linkcode RegistryStore.release}, and calls `onLost` if another node claims it.
   */
  claim(executorId: string, onLost?: (byNode: string) => void): Promise<void>;
  /** Drops this node's lease on the executor (no-op when another node holds it). */
  release(executorId: string): Promise<void>;
  /** The node holding the executor's socket, or undefined when it is offline everywhere. */
  locate(executorId: string): Promise<string | undefined>;
  /** The `ws://` base of a node's websockets, or undefined (unknown or dead node). */
  nodeUrl(nodeId: string): Promise<string | undefined>;
  /** Whether a node is alive (its lease is kept up). */
  nodeAlive(nodeId: string): Promise<boolean>;
  /**
   * Stores a single-use ticket (a JSON document) under `key` until `expiresAtMs`; false when
   * the store holds too many (the caller answers "busy").
   */
  putTicket(key: string, record: unknown, expiresAtMs: number): Promise<boolean>;
  /**
   * Takes a ticket: reads and deletes it as one conditional step, so of any number of
   * concurrent takers (on any node) exactly one gets it; undefined when absent or taken.
   */
  takeTicket<T>(key: string): Promise<T | undefined>;
  /**
   * Marks a single-use token (a URL nonce) used until `expiresAtMs`; false when it already was
   * (on any node) or when the store is full. One create, never read-then-write.
   */
  markUsed(token: string, expiresAtMs: number): Promise<boolean>;
  /** How long used tokens are remembered: single-use URLs must expire sooner. */
  readonly usedTtlMs: number;
  /** The URL signing secret every node of the cluster shares (32 bytes). */
  signingSecret(): Promise<Uint8Array>;
  /** Readiness for `/readyz` and `/metrics`. */
  health(): StoreHealth;
  /** Executors this node holds. */
  readonly claimedCount: number;
  /** Stops keepalives; a cluster node drops its leases so others see it gone at once. */
  close(): Promise<void>;
}

/**
 * Today's single-node behaviour: everything in this process's memory.
 *
 * @example
 * ```ts
 * import { MemoryRegistryStore } from "./registry_store.ts";
 * const store = new MemoryRegistryStore("local");
 * await store.locate("e1"); // undefined until claimed
 * ```
 */
export class MemoryRegistryStore implements RegistryStore {
  readonly nodeId: string;
  readonly clustered = false;
  readonly usedTtlMs = Number.POSITIVE_INFINITY;
  #registrations = new Map<string, string>();
  #tickets = new Map<string, { json: string; expiresAtMs: number }>();
  #used = new Map<string, number>();
  #claimed = new Set<string>();
  #secret = crypto.getRandomValues(new Uint8Array(32));

  constructor(nodeId = "local") {
    this.nodeId = nodeId;
  }

  getRegistration<T>(kind: RegistrationKind, id: string): Promise<T | undefined> {
    const json = this.#registrations.get(`${kind}\0${id}`);
    return Promise.resolve(json === undefined ? undefined : JSON.parse(json) as T);
  }

  putRegistration(kind: RegistrationKind, id: string, record: unknown): Promise<void> {
    // Stored as JSON so callers see the same copy semantics as with a remote store.
    this.#registrations.set(`${kind}\0${id}`, JSON.stringify(record));
    return Promise.resolve();
  }

  claim(executorId: string): Promise<void> {
    this.#claimed.add(executorId);
    return Promise.resolve();
  }

  release(executorId: string): Promise<void> {
    this.#claimed.delete(executorId);
    return Promise.resolve();
  }

  locate(executorId: string): Promise<string | undefined> {
    return Promise.resolve(this.#claimed.has(executorId) ? this.nodeId : undefined);
  }

  nodeUrl(): Promise<string | undefined> {
    return Promise.resolve(undefined);
  }

  nodeAlive(nodeId: string): Promise<boolean> {
    return Promise.resolve(nodeId === this.nodeId);
  }

  signingSecret(): Promise<Uint8Array> {
    return Promise.resolve(this.#secret);
  }

  putTicket(key: string, record: unknown, expiresAtMs: number): Promise<boolean> {
    this.#sweep();
    if (this.#tickets.size >= MAX_SINGLE_USE) return Promise.resolve(false);
    this.#tickets.set(key, { json: JSON.stringify(record), expiresAtMs });
    return Promise.resolve(true);
  }

  takeTicket<T>(key: string): Promise<T | undefined> {
    const ticket = this.#tickets.get(key);
    this.#tickets.delete(key);
    const live = ticket !== undefined && ticket.expiresAtMs > Date.now();
    return Promise.resolve(live ? JSON.parse(ticket.json) as T : undefined);
  }

  markUsed(token: string, expiresAtMs: number): Promise<boolean> {
    if (this.#used.has(token)) return Promise.resolve(false);
    this.#sweep();
    if (this.#used.size >= MAX_SINGLE_USE) return Promise.resolve(false);
    this.#used.set(token, expiresAtMs);
    return Promise.resolve(true);
  }

  /** Forgets expired tickets and used tokens (an expired URL is refused by its expiry). */
  #sweep(): void {
    const now = Date.now();
    for (const [key, ticket] of this.#tickets) {
      if (ticket.expiresAtMs <= now) this.#tickets.delete(key);
    }
    for (const [token, expiresAtMs] of this.#used) {
      if (expiresAtMs < now) this.#used.delete(token);
    }
  }

  health(): StoreHealth {
    return { ready: true, detail: "in memory (single node)" };
  }

  get claimedCount(): number {
    return this.#claimed.size;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
