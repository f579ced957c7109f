/**
 * Executor side of the E5 Noise relay over one physical link: the responder handshake (with
 * registry validation before message 2), the per-link limits, and one
 * {@linkcode NoiseRelayTransport} per established stream. Reactions follow upstream 0.169.0
 * (spec e5_noise.md §2.9): anything wrong resets the stream with `noise_relay_protocol_error`;
 * streams never outlive their link (a harness resumes its session with a new stream).
 * @module
 */
import {
  type HandshakeEntropy,
  HybridIkResponder,
  type HybridKeyPair,
  type HybridPublicKey,
  NoiseChannel,
  noisePrologue,
} from "../noise/mod.ts";
import type { MessageTransport } from "../transport/types.ts";
import { decodeFrame, encodeFrame, type RelayMessageFrame } from "./frame.ts";
import type { RelayLink } from "./link.ts";
import { NoiseStream } from "./_noise_stream.ts";

/**
 * The only reset reason upstream's executor sends.
 * @example
 * ```ts
 * import { NOISE_RESET_REASON } from "./noise_executor.ts";
 * NOISE_RESET_REASON; // "noise_relay_protocol_error"
 * ```
 */
export const NOISE_RESET_REASON = "noise_relay_protocol_error";

/** Longest accepted harness key authorization (UTF-8 bytes). */
const MAX_AUTHORIZATION_BYTES = 4096;

/**
 * What the executor asks the registry before answering a handshake.
 * @example
 * ```ts
 * import type { HarnessValidationRequest } from "./noise_executor.ts";
 * declare const key: import("../noise/mod.ts").HybridPublicKey;
 * const request: HarnessValidationRequest = { streamId: crypto.randomUUID(), harnessKey: key, authorization: "authz-1" };
 * ```
 */
export interface HarnessValidationRequest {
  streamId: string;
  harnessKey: HybridPublicKey;
  authorization: string;
  /** Aborted when the validation timed out or the stream went away. */
  signal?: AbortSignal;
}

/**
 * A Noise stream as the server core sees it.
 * @example
 * ```ts
 * import type { NoiseRelayTransport } from "./noise_executor.ts";
 * function id(t: NoiseRelayTransport): string { return t.id; }
 * ```
 */
export interface NoiseRelayTransport extends MessageTransport {
  /** The `stream_id`. */
  readonly id: string;
  /** Why the stream ended, once it has. */
  readonly endReason: string | undefined;
}

/**
 * Options of {@linkcode NoiseExecutorMux}.
 * @example
 * ```ts
 * import type { NoiseExecutorMuxOptions } from "./noise_executor.ts";
 * declare const key: import("../noise/mod.ts").HybridKeyPair;
 * const options: NoiseExecutorMuxOptions = {
 *   staticKey: key, environmentId: "env-1", registrationId: "reg-1",
 *   validate: async () => true, onStream: (t) => t.close(),
 * };
 * ```
 */
export interface NoiseExecutorMuxOptions {
  /** The executor's static key (the one registered). */
  staticKey: HybridKeyPair;
  environmentId: string;
  /** The current `executor_registration_id` (bound into every prologue). */
  registrationId: string;
  /** Asks the registry (`/validate`); only an explicit `true` admits the harness. */
  validate: (request: HarnessValidationRequest) => Promise<boolean>;
  /** A stream finished its handshake; serve it as a JSON-RPC connection. */
  onStream: (transport: NoiseRelayTransport) => void;
  /** Validation deadline. Default 10 s (upstream). */
  validationTimeoutMs?: number;
  /** Most established streams. Default 128. */
  maxActive?: number;
  /** Most handshakes waiting for validation. Default 32. */
  maxPending?: number;
  /** Handshake randomness (tests replay recorded values). */
  entropy?: HandshakeEntropy;
  /** One line per reset stream or dropped frame. */
  log?: (line: string) => void;
}

/**
 * Counters of a mux.
 * @example
 * ```ts
 * import type { NoiseMuxStats } from "./noise_executor.ts";
 * const s: NoiseMuxStats = { handshakes: 0, rejected: 0, resets: 0, dropped: 0 };
 * ```
 */
export interface NoiseMuxStats {
  /** Handshakes completed. */
  handshakes: number;
  /** Handshakes refused (bad message 1, validation false/failed/timed out, limits). */
  rejected: number;
  /** `reset` frames sent. */
  resets: number;
  /** Frames dropped without a reset (text, undecodable, multi-segment data). */
  dropped: number;
}

interface Pending {
  attempt: number;
  abort: AbortController;
}

/**
 * Serves Noise relay streams over one link.
 *
 * @example
 * ```ts
 * import { NoiseExecutorMux } from "./noise_executor.ts";
 * import { generateHybridKeyPair } from "../noise/mod.ts";
 * declare const link: import("./link.ts").RelayLink;
 * const mux = new NoiseExecutorMux(link, {
 *   staticKey: await generateHybridKeyPair(),
 *   environmentId: "env-1",
 *   registrationId: "reg-1",
 *   validate: async () => true,
 *   onStream: (transport) => transport.close(),
 * });
 * mux.close();
 * ```
 */
export class NoiseExecutorMux {
  readonly stats: NoiseMuxStats = { handshakes: 0, rejected: 0, resets: 0, dropped: 0 };
  #link: RelayLink;
  #options: NoiseExecutorMuxOptions;
  #active = new Map<string, NoiseStream>();
  #pending = new Map<string, Pending>();
  #attempts = 0;
  #closed = false;
  #log: (line: string) => void;
  #lost = Promise.withResolvers<string>();

  /**
   * @param link the physical link to the rendezvous
   * @param options keys, registration, validation and the stream callback
   */
  constructor(link: RelayLink, options: NoiseExecutorMuxOptions) {
    this.#link = link;
    this.#options = options;
    this.#log = options.log ?? (() => {});
    link.attach({
      onMessage: (data) => this.#onMessage(data),
      onClose: (reason) => this.#onLinkClosed(reason),
    });
  }

  /** Resolves with the reason once the link is gone. */
  get lost(): Promise<string> {
    return this.#lost.promise;
  }

  /** Established streams. */
  get activeCount(): number {
    return this.#active.size;
  }

  /** Handshakes waiting for validation. */
  get pendingCount(): number {
    return this.#pending.size;
  }

  /** Resets every stream and closes the link. */
  close(): void {
    if (this.#closed) return;
    for (const id of [...this.#active.keys()]) this.#reset(id, "executor shutting down");
    for (const id of [...this.#pending.keys()]) this.#reset(id, "executor shutting down");
    this.#closed = true;
    this.#link.close();
  }

  #onLinkClosed(reason: string): void {
    this.#closed = true;
    for (const pending of this.#pending.values()) pending.abort.abort();
    this.#pending.clear();
    for (const stream of [...this.#active.values()]) stream.end(`link lost: ${reason}`);
    this.#active.clear();
    this.#lost.resolve(reason);
  }

  #drop(why: string): void {
    this.stats.dropped++;
    this.#log(`noise relay: dropped a frame: ${why}`);
  }

  /** Forgets the stream (pending or active) and tells the harness with a `reset`. */
  #reset(streamId: string, why: string): void {
    const pending = this.#pending.get(streamId);
    if (pending) {
      pending.abort.abort();
      this.#pending.delete(streamId);
    }
    const stream = this.#active.get(streamId);
    this.#active.delete(streamId);
    stream?.end(why);
    if (this.#closed) return;
    this.stats.resets++;
    this.#log(`noise relay: reset stream ${streamId.slice(0, 128)}: ${why}`);
    this.#link.send(encodeFrame({
      streamId,
      body: { case: "reset", value: { reason: NOISE_RESET_REASON } },
    }));
  }

  #onMessage(data: Uint8Array | string): void {
    if (this.#closed) return;
    if (typeof data === "string") return this.#drop("non-binary message");
    let frame: RelayMessageFrame;
    try {
      frame = decodeFrame(data);
    } catch (error) {
      return this.#drop((error as Error).message);
    }
    const id = frame.streamId;
    switch (frame.body.case) {
      case "handshake": {
        if (this.#active.has(id)) return this.#reset(id, "second handshake on an active stream");
        if (this.#pending.has(id)) return this.#reset(id, "second handshake while validating");
        this.#startHandshake(id, frame.body.value.payload);
        return;
      }
      case "data": {
        const stream = this.#active.get(id);
        if (!stream) {
          return this.#reset(
            id,
            this.#pending.has(id)
              ? "data before the handshake completed"
              : "data for an unknown stream",
          );
        }
        const body = frame.body.value;
        // Upstream drops multi-segment data silently (Noise never segments).
        if (body.segmentCount !== 1 || body.segmentIndex !== 0) {
          return this.#drop(`data with segment_count ${body.segmentCount} on ${id.slice(0, 128)}`);
        }
        if (body.payload.length === 0) return this.#reset(id, "empty record");
        stream.deliver(body.seq, body.payload, (error) => {
          if (this.#active.get(id) === stream) this.#reset(id, error.message);
        });
        return;
      }
      case "reset": {
        const pending = this.#pending.get(id);
        if (pending) {
          pending.abort.abort();
          this.#pending.delete(id);
        }
        const stream = this.#active.get(id);
        this.#active.delete(id);
        stream?.end(`reset by peer (${frame.body.value.reason.slice(0, 256)})`);
        return;
      }
      default:
        // resume, heartbeat, ack_frame: nothing to do on a Noise stream.
        return;
    }
  }

  #startHandshake(streamId: string, message1: Uint8Array): void {
    const options = this.#options;
    if (this.#pending.size >= (options.maxPending ?? 32)) {
      this.stats.rejected++;
      return this.#reset(streamId, "too many handshakes waiting for validation");
    }
    if (this.#active.size >= (options.maxActive ?? 128)) {
      this.stats.rejected++;
      return this.#reset(streamId, "too many active streams");
    }
    const attempt = ++this.#attempts;
    const abort = new AbortController();
    this.#pending.set(streamId, { attempt, abort });
    const timeoutMs = options.validationTimeoutMs ?? 10_000;
    const current = () => this.#pending.get(streamId)?.attempt === attempt && !this.#closed;
    (async () => {
      const prologue = noisePrologue({
        environmentId: options.environmentId,
        registrationId: options.registrationId,
        streamId,
      });
      const responder = await HybridIkResponder.readMessage1(message1, {
        prologue,
        localStatic: options.staticKey,
        entropy: options.entropy,
      });
      if (responder.payload.length > MAX_AUTHORIZATION_BYTES) {
        throw new Error(`authorization of ${responder.payload.length} bytes is too long`);
      }
      const authorization = new TextDecoder("utf-8", { fatal: true }).decode(responder.payload);
      if (!current()) return;
      const timeout = AbortSignal.timeout(timeoutMs);
      const signal = AbortSignal.any([abort.signal, timeout]);
      const verdict = await Promise.race([
        options.validate({ streamId, harnessKey: responder.remoteStatic, authorization, signal }),
        new Promise<never>((_, reject) => {
          const fail = () =>
            reject(
              new Error(
                timeout.aborted ? `validation timed out after ${timeoutMs} ms` : "cancelled",
              ),
            );
          if (signal.aborted) fail();
          signal.addEventListener("abort", fail, { once: true });
        }),
      ]);
      if (!current()) return;
      if (verdict !== true) throw new Error("the registry rejected the harness key");
      const { message, ciphers } = await responder.writeMessage2();
      if (!current()) return;
      this.#pending.delete(streamId);
      const stream = new NoiseStream({
        id: streamId,
        label: `noise relay stream ${streamId.slice(0, 128)} via ${this.#link.label}`,
        channel: new NoiseChannel(ciphers),
        link: this.#link,
        onEnd: (local) => {
          // Our session ended (the core closed the transport): tell the harness, as upstream.
          if (local && this.#active.get(streamId) === stream) {
            this.#reset(streamId, "session ended");
          }
        },
      });
      this.#active.set(streamId, stream);
      this.#link.send(encodeFrame({
        streamId,
        body: { case: "handshake", value: { payload: message } },
      }));
      this.stats.handshakes++;
      options.onStream(stream);
    })().catch((error) => {
      if (!current()) return;
      this.stats.rejected++;
      this.#reset(streamId, `handshake failed: ${(error as Error).message}`);
    });
  }
}
