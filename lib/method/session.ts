/**
 * A session: what survives a disconnect (per-session resources such as the process table),
 * identified by a UUID.
 * @module
 */

/** Receives the session's notifications while a connection is attached. */
export type NotificationSink = (method: string, params: unknown) => Promise<void>;

/**
 * One client session. Connections come and go; the session and its resources stay until it has
 * been detached longer than the TTL, then {@link Session.dispose} releases them.
 *
 * @example
 * ```ts
 * const session = new Session(crypto.randomUUID());
 * const table = session.resource("process.table", () => new Set<string>() as unknown as Disposable);
 * ```
 */
export class Session {
  readonly id: string;
  #sink: NotificationSink | null = null;
  #sinkChanged = Promise.withResolvers<void>();
  #resources = new Map<string, Disposable>();

  constructor(id: string) {
    this.id = id;
  }

  /** Where notifications go; null while detached (handlers then only retain events). */
  get sink(): NotificationSink | null {
    return this.#sink;
  }

  /** Set by the session registry on attach (the connection's notify) and detach (null). */
  setSink(sink: NotificationSink | null): void {
    this.#sink = sink;
    const changed = this.#sinkChanged;
    this.#sinkChanged = Promise.withResolvers<void>();
    changed.resolve();
  }

  /** Resolves at the next attach or detach (handlers that pause while detached wait on it). */
  sinkChanged(): Promise<void> {
    return this.#sinkChanged.promise;
  }

  /** Returns the resource stored under `key`, creating it with `create` on first use. */
  resource<T extends Disposable>(key: string, create: () => T): T {
    let value = this.#resources.get(key);
    if (!value) {
      value = create();
      this.#resources.set(key, value);
    }
    return value as T;
  }

  /** Releases every resource (the session expired or the server shuts down). */
  dispose(): void {
    for (const resource of this.#resources.values()) resource[Symbol.dispose]();
    this.#resources.clear();
  }
}
