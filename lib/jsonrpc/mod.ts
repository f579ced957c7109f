/**
 * The exec-server JSON-RPC dialect: message parsing/encoding and error codes.
 * @module
 */
export * from "./errors.ts";
export * from "./message.ts";
