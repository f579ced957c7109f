/**
 * All sessions of a server: creation, attach/detach with the detached TTL, resume and eviction
 * (spec §2.3).
 * @module
 */
import { ErrorCode, invalidRequest, RpcError } from "../jsonrpc/errors.ts";
import { Session } from "../method/session.ts";

/** The side of a connection the registry talks to. */
export interface SessionOwner {
  /** Delivers a process notification to this connection. */
  notify(method: string, params: unknown): Promise<void>;
  /** Called when another connection resumed this owner's session. */
  evict(): void;
}

interface Entry {
  session: Session;
  owner: SessionOwner | null;
  /** The connection that held the session before it detached; evicted on resume. */
  previousOwner: SessionOwner | null;
  expiry: ReturnType<typeof setTimeout> | null;
  detachedAt: number;
}

/** Options of {@link SessionRegistry}. */
export interface SessionRegistryOptions {
  /** How long a detached session waits for a resume (upstream: 30 s). */
  detachedTtlMs: number;
}

/**
 * @example
 * ```ts
 * const registry = new SessionRegistry({ detachedTtlMs: 30_000 });
 * ```
 */
export class SessionRegistry {
  #entries = new Map<string, Entry>();
  #options: SessionRegistryOptions;

  constructor(options: SessionRegistryOptions) {
    this.#options = options;
  }

  /** Creates a session attached to `owner`. */
  create(owner: SessionOwner): Session {
    const session = new Session(crypto.randomUUID());
    const entry: Entry = { session, owner: null, previousOwner: null, expiry: null, detachedAt: 0 };
    this.#entries.set(session.id, entry);
    this.#attach(entry, owner);
    return session;
  }

  /** Re-attaches a detached session to `owner`; the previous owner (if any) is evicted. */
  resume(sessionId: string, owner: SessionOwner): Session {
    const entry = this.#entries.get(sessionId);
    if (!entry) throw invalidRequest(`unknown session id ${sessionId}`);
    if (entry.owner !== null) {
      throw new RpcError(
        ErrorCode.SessionAttached,
        `session ${sessionId} is already attached to another connection`,
      );
    }
    if (Date.now() - entry.detachedAt >= this.#options.detachedTtlMs) {
      this.#expire(entry);
      throw invalidRequest(`unknown session id ${sessionId}`);
    }
    this.#attach(entry, owner);
    return entry.session;
  }

  /** Detaches `owner` from its session; the session expires after the TTL unless resumed. */
  detach(session: Session, owner: SessionOwner): void {
    const entry = this.#entries.get(session.id);
    if (!entry || entry.owner !== owner) return;
    entry.owner = null;
    entry.previousOwner = owner;
    entry.detachedAt = Date.now();
    session.setSink(null);
    entry.expiry = setTimeout(() => this.#expire(entry), this.#options.detachedTtlMs);
    Deno.unrefTimer(entry.expiry as unknown as number);
  }

  /** Whether `owner` currently holds the session. */
  isAttached(session: Session, owner: SessionOwner): boolean {
    return this.#entries.get(session.id)?.owner === owner;
  }

  /** Number of sessions, attached or detached. */
  get size(): number {
    return this.#entries.size;
  }

  /** Removes every session and disposes their resources, killing all processes (server shutdown). */
  shutdown(): void {
    for (const entry of [...this.#entries.values()]) this.#expire(entry);
  }

  #attach(entry: Entry, owner: SessionOwner): void {
    if (entry.expiry !== null) clearTimeout(entry.expiry);
    entry.expiry = null;
    const previous = entry.previousOwner;
    entry.previousOwner = null;
    entry.owner = owner;
    entry.session.setSink((method, params) => owner.notify(method, params));
    previous?.evict();
  }

  #expire(entry: Entry): void {
    if (entry.expiry !== null) clearTimeout(entry.expiry);
    this.#entries.delete(entry.session.id);
    entry.session.dispose();
  }
}
