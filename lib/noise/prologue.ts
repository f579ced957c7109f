/**
 * The prologue both peers mix in before message 1: it binds a handshake to one environment,
 * one executor registration and one relay stream.
 * @module
 */

const DOMAIN = "codex-exec-server-relay-noise/v1";

/**
 * What the prologue binds.
 * @example
 * ```ts
 * import type { PrologueParts } from "./prologue.ts";
 * const parts: PrologueParts = { environmentId: "env-1", registrationId: "registration-1", streamId: "stream-1" };
 * ```
 */
export interface PrologueParts {
  /** The environment id the registry knows the executor by. */
  environmentId: string;
  /** The registry's `executor_registration_id`. */
  registrationId: string;
  /** The relay `stream_id`. */
  streamId: string;
}

/**
 * `u64be(len) ‖ bytes` for the domain string, environment id, registration id and stream id.
 *
 * @example
 * ```ts
 * import { noisePrologue } from "./prologue.ts";
 * const bytes = noisePrologue({ environmentId: "env-1", registrationId: "registration-1", streamId: "stream-1" });
 * bytes.length; // 4 * 8 + 32 + 5 + 14 + 8
 * ```
 */
export function noisePrologue(parts: PrologueParts): Uint8Array<ArrayBuffer> {
  const encoder = new TextEncoder();
  const fields = [DOMAIN, parts.environmentId, parts.registrationId, parts.streamId].map((s) =>
    encoder.encode(s)
  );
  const out = new Uint8Array(fields.reduce((sum, f) => sum + 8 + f.length, 0));
  const view = new DataView(out.buffer);
  let offset = 0;
  for (const field of fields) {
    view.setBigUint64(offset, BigInt(field.length), false);
    out.set(field, offset + 8);
    offset += 8 + field.length;
  }
  return out;
}
