/**
 * How a JSON-RPC method is declared: its handshake family, its lane for concurrent mode, the zod
 * schema of its params (the single source of the params type) and its handler.
 * @module
 */
import type { z } from "zod";
import type { Session } from "./session.ts";

/** The family named in handshake-gate errors (`client must call initialize before using <family> methods`). */
export type MethodFamily =
  | "exec"
  | "filesystem"
  | "http"
  | "environment info"
  | "environment status"
  | "environment config"
  | "capability discovery";

/** Concurrent mode runs control-lane methods on their own semaphore so they are never starved. */
export type Lane = "control" | "ordinary";

/** Per-connection state available to handlers. */
export interface ConnectionContext {
  /** Names the connection in logs, e.g. `exec-server websocket 127.0.0.1:5000`. */
  readonly label: string;
  /** Aborted when the connection ends; per-connection work (HTTP streams, handles) stops with it. */
  readonly signal: AbortSignal;
  /** Sends a notification to this connection (not the session). Dropped after the connection ended. */
  notify(method: string, params: unknown): Promise<void>;
  /**
   * Returns this connection's resource stored under `key`, creating it with `create` on first use.
   * It is disposed (`Symbol.dispose` / `Symbol.asyncDispose`) when the connection ends.
   */
  resource<T extends Disposable | AsyncDisposable>(key: string, create: () => T): T;
}

/** What a handler receives besides its params. */
export interface MethodContext {
  readonly session: Session;
  readonly connection: ConnectionContext;
  /** Runs `task` once the response to this request has been written (e.g. streamed HTTP bodies). */
  afterResponse(task: () => void | Promise<void>): void;
}

/** A method declaration. */
export interface MethodSpec<S extends z.ZodType = z.ZodType> {
  family: MethodFamily;
  lane?: Lane;
  params: S;
  handle(params: z.output<S>, context: MethodContext): unknown | Promise<unknown>;
}

/** Methods by wire name. */
// deno-lint-ignore no-explicit-any
export type MethodTable = Record<string, MethodSpec<any>>;

/**
 * Declares a method with its params type inferred from the schema.
 *
 * @example
 * ```ts
 * import { z } from "zod";
 * const status = defineMethod({
 *   family: "environment status",
 *   params: z.unknown(),
 *   handle: () => ({ status: "ready" }),
 * });
 * ```
 */
export function defineMethod<S extends z.ZodType>(spec: MethodSpec<S>): MethodSpec<S> {
  return spec;
}
