/**
 * The exec-server core: sessions, the route table and the websocket listener.
 * @module
 */
import { ExecServerCore, type ExecServerCoreOptions } from "./core.ts";
import { type RouteOptions, routeTable } from "./routes.ts";

export { ExecServerCore, type ExecServerCoreOptions } from "./core.ts";
export { type RouteOptions, routeTable } from "./routes.ts";
export { serveWebSocket, type WebSocketServer, type WebSocketServerOptions } from "./ws_server.ts";
export type { ConnectionContext, MethodContext, MethodSpec, MethodTable } from "../method/mod.ts";

/** Options of {@link createServerCore}. */
export interface ServerOptions extends Omit<ExecServerCoreOptions, "methods">, RouteOptions {}

/**
 * Creates a server core answering every method of the route table.
 *
 * @example
 * ```ts
 * const core = createServerCore({ concurrentRequests: 1 });
 * ```
 */
export function createServerCore(options: ServerOptions = {}): ExecServerCore {
  return new ExecServerCore({ ...options, methods: routeTable(options) });
}
