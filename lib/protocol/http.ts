/**
 * Params schema of `http/request` (spec §3.4), the single source of its TS type.
 * @module
 */
import { z } from "zod";
import { Notification } from "./methods.ts";

/**
 * One request header; repeated names are kept, in order.
 *
 * @example
 * ```ts
 * httpHeaderSchema.parse({ name: "accept", value: "application/json" });
 * ```
 */
export const httpHeaderSchema = z.object({
  name: z.string(),
  value: z.string(),
  /** Capability `httpHeaderEnvVars`: the server appends this variable's value to `value`. */
  valueEnvVar: z.string().nullish(),
});

/**
 * `http/request` params.
 *
 * @example
 * ```ts
 * const params = httpRequestParams.parse({ method: "GET", url: "http://127.0.0.1:1/", requestId: "r1" });
 * ```
 */
export const httpRequestParams = z.object({
  method: z.string(),
  url: z.string(),
  headers: z.array(httpHeaderSchema).nullish().transform((headers) => headers ?? []),
  bodyBase64: z.string().nullish(),
  timeoutMs: z.number().int().min(0).nullish(),
  redirectPolicy: z.enum(["follow", "stop"]).nullish().transform((policy) => policy ?? "follow"),
  requestId: z.string(),
  streamResponse: z.boolean().nullish().transform((stream) => stream ?? false),
});

/** Parsed `http/request` params. */
export type HttpRequestParams = z.output<typeof httpRequestParams>;

/**
 * Notification carrying streamed body bytes.
 *
 * @example
 * ```ts
 * declare const received: { method?: string }[];
 * const deltas = received.filter((m) => m.method === BODY_DELTA_METHOD);
 * ```
 */
export const BODY_DELTA_METHOD: "http/request/bodyDelta" = Notification.httpBodyDelta;

/** The `http/request` result. */
export interface HttpRequestResult {
  status: number;
  headers: { name: string; value: string }[];
  bodyBase64: string;
}

/** The `http/request/bodyDelta` params. */
export interface BodyDelta {
  requestId: string;
  seq: number;
  deltaBase64: string;
  done: boolean;
  error: string | null;
}
