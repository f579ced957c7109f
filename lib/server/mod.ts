/**
 * The exec-server core: sessions, method routing and the websocket listener.
 * @module
 */
import { ExecServerCore, type ExecServerCoreOptions } from "./core.ts";
import { fsMethods } from "../fs/mod.ts";
import { httpMethods } from "../http/mod.ts";
import { configMethods } from "../config/mod.ts";

export { ExecServerCore, type ExecServerCoreOptions } from "./core.ts";
export { serveWebSocket, type WebSocketServer, type WebSocketServerOptions } from "./ws_server.ts";
export type { ConnectionContext, MethodContext, MethodSpec, MethodTable } from "./method.ts";

/**
 * Creates a server core with every method this build implements.
 *
 * @example
 * ```ts
 * const core = createServerCore({ concurrentRequests: 1 });
 * ```
 */
export function createServerCore(options: ExecServerCoreOptions = {}): ExecServerCore {
  return new ExecServerCore({
    ...options,
    methods: { ...fsMethods, ...httpMethods, ...configMethods, ...options.methods },
  });
}
