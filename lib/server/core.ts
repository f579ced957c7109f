/**
 * The transport-independent server: one session registry and the method table it is given
 * (`routes.ts`) serving any number of transports (websocket, stdio, relay streams).
 * @module
 */
import type { MethodTable } from "../method/mod.ts";
import type { MessageTransport } from "../transport/types.ts";
import { ServerConnection } from "./connection.ts";
import { SessionRegistry } from "./session_registry.ts";

/** Options of {@link ExecServerCore}; defaults are upstream's. */
export interface ExecServerCoreOptions {
  /** Every method the server answers, by wire name (see `routes.ts`). */
  methods: MethodTable;
  /** 1 (default) handles each connection's requests strictly in order. */
  concurrentRequests?: number;
  /** Detached session TTL (default 30 s). */
  sessionTtlMs?: number;
}

/**
 * @example
 * ```ts
 * import type { MessageTransport } from "../transport/types.ts";
 * import { routeTable } from "./routes.ts";
 * declare const transport: MessageTransport;
 * const core = new ExecServerCore({ methods: routeTable() });
 * await core.serve(transport);
 * ```
 */
export class ExecServerCore {
  readonly registry: SessionRegistry;
  #methods: MethodTable;
  #concurrentRequests: number;
  #connections = new Set<ServerConnection>();

  constructor(options: ExecServerCoreOptions) {
    this.registry = new SessionRegistry({ detachedTtlMs: options.sessionTtlMs ?? 30_000 });
    this.#methods = options.methods;
    this.#concurrentRequests = options.concurrentRequests ?? 1;
  }

  /** Serves one transport until it closes. */
  async serve(transport: MessageTransport): Promise<void> {
    const connection = new ServerConnection(transport, {
      registry: this.registry,
      methods: this.#methods,
      concurrentRequests: this.#concurrentRequests,
    });
    this.#connections.add(connection);
    try {
      await connection.run();
    } finally {
      this.#connections.delete(connection);
    }
  }

  /** Kills every managed process group and forgets all sessions. */
  shutdown(): void {
    this.registry.shutdown();
  }
}
