/**
 * The exec-server wire surface, shared by the server's handlers and the client (upstream's
 * `protocol.rs`): method and notification names, params schemas, results and notifications,
 * and `file:` URIs.
 *
 * @example
 * ```ts
 * import { Method, startParams } from "./mod.ts";
 * const params = startParams.parse({ processId: "p", argv: ["true"], cwd: "/", env: {}, tty: false });
 * console.log(Method.processStart, params.processId);
 * ```
 * @module
 */
export * from "./methods.ts";
export * from "./environment.ts";
export * from "./process.ts";
export * from "./fs.ts";
export * from "./http.ts";
export * from "./sandbox.ts";
export * from "./config.ts";
export * from "./discovery.ts";
export { pathFromUri, uriFromPath } from "./file_uri.ts";
