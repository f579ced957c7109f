/**
 * Method plumbing below every handler folder: how a method is declared (`defineMethod`), what a
 * handler receives (`MethodContext`), the session it runs in, and upstream's params error texts.
 *
 * @example
 * ```ts
 * import { z } from "zod";
 * import { defineMethod } from "./mod.ts";
 * const status = defineMethod({
 *   family: "environment status",
 *   params: z.unknown(),
 *   handle: () => ({ status: "ready" }),
 * });
 * ```
 * @module
 */
export {
  type ConnectionContext,
  defineMethod,
  type Lane,
  type MethodContext,
  type MethodFamily,
  type MethodSpec,
  type MethodTable,
} from "./method.ts";
export { formatParamsError } from "./params_error.ts";
export { type NotificationSink, Session } from "./session.ts";
