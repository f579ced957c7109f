/**
 * Transports carrying JSON-RPC messages.
 * @module
 */
export * from "./types.ts";
export * from "./websocket.ts";
export * from "./json_lines.ts";
export * from "./open_websocket.ts";
