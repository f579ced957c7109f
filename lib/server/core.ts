/**
 * The transport-independent server: one session registry and method table serving any number of
 * transports (websocket, stdio, relay streams).
 * @module
 */
import { environmentMethods } from "./environment.ts";
import { processMethods } from "../process/methods.ts";
import { PipeSpawner } from "../process/pipe_spawner.ts";
import { PtySpawner } from "../process/pty_spawner.ts";
import type { Spawner } from "../process/spawner.ts";
import type { MessageTransport } from "../transport/types.ts";
import { ServerConnection } from "./connection.ts";
import type { MethodTable } from "./method.ts";
import { SessionRegistry } from "./session_registry.ts";

/** Options of {@link ExecServerCore}; defaults are upstream's. */
export interface ExecServerCoreOptions {
  /** 1 (default) handles each connection's requests strictly in order. */
  concurrentRequests?: number;
  /** Detached session TTL (default 30 s). */
  sessionTtlMs?: number;
  /** How long a closed process stays readable (default 30 s). */
  processRetentionMs?: number;
  /** Process backends; defaults: {@link PipeSpawner}, and {@link PtySpawner} on Linux. */
  spawners?: { pipe?: Spawner; pty?: Spawner };
  /** Extra methods (fs, http, …) merged over the built-in process and environment methods. */
  methods?: MethodTable;
}

/**
 * @example
 * ```ts
 * const core = new ExecServerCore({ methods: allMethods });
 * await core.serve(transport);
 * ```
 */
export class ExecServerCore {
  readonly registry: SessionRegistry;
  #methods: MethodTable;
  #concurrentRequests: number;
  #connections = new Set<ServerConnection>();

  constructor(options: ExecServerCoreOptions = {}) {
    this.registry = new SessionRegistry({
      detachedTtlMs: options.sessionTtlMs ?? 30_000,
      processTable: {
        spawners: {
          pipe: options.spawners?.pipe ?? new PipeSpawner(),
          pty: options.spawners?.pty ?? (Deno.build.os === "linux" ? new PtySpawner() : undefined),
        },
        closedRetentionMs: options.processRetentionMs ?? 30_000,
      },
    });
    this.#methods = { ...processMethods, ...environmentMethods, ...options.methods };
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
