/**
 * Harness side of the E5 Noise relay: one stream over one link (one websocket, as upstream's
 * harness): `resume` claims the stream, `handshake` carries message 1 with the registry's
 * authorization, message 2 pins the executor key, then JSON-RPC flows as Noise records.
 * @module
 */
import {
  type HandshakeEntropy,
  HybridIkInitiator,
  type HybridKeyPair,
  type HybridPublicKey,
  NoiseChannel,
  noisePrologue,
} from "../noise/mod.ts";
import { RelayError } from "./errors.ts";
import { decodeFrame, encodeFrame, type RelayMessageFrame } from "./frame.ts";
import type { RelayLink } from "./link.ts";
import type { NoiseRelayTransport } from "./noise_executor.ts";
import { NoiseStream } from "./_noise_stream.ts";

/**
 * What the registry's `/connect` bundle tells the harness.
 * @example
 * ```ts
 * import type { NoiseBundle } from "./noise_harness.ts";
 * declare const key: import("../noise/mod.ts").HybridPublicKey;
 * const bundle: NoiseBundle = { environmentId: "env-1", registrationId: "reg-1", executorKey: key, authorization: "authz-1" };
 * ```
 */
export interface NoiseBundle {
  environmentId: string;
  registrationId: string;
  /** Pinned: message 2 must come from this key. */
  executorKey: HybridPublicKey;
  /** Opaque; travels as the message 1 payload. */
  authorization: string;
}

/**
 * Options of {@linkcode openNoiseHarnessStream}.
 * @example
 * ```ts
 * import type { NoiseHarnessOptions } from "./noise_harness.ts";
 * declare const bundle: import("./noise_harness.ts").NoiseBundle;
 * declare const key: import("../noise/mod.ts").HybridKeyPair;
 * const options: NoiseHarnessOptions = { bundle, harnessKey: key, handshakeTimeoutMs: 10_000 };
 * ```
 */
export interface NoiseHarnessOptions {
  bundle: NoiseBundle;
  /** The harness's static key (kept across reconnects of one logical session). */
  harnessKey: HybridKeyPair;
  /** Default a fresh lowercase UUIDv4. */
  streamId?: string;
  /** Default 10 s. */
  handshakeTimeoutMs?: number;
  /** Handshake randomness (tests replay recorded values). */
  entropy?: HandshakeEntropy;
  /** Sees every frame sent and received (golden transcripts). */
  tap?: (direction: "out" | "in", frame: Uint8Array) => void;
}

/**
 * Opens a Noise stream over `link` and resolves once the handshake is done. Closing the
 * stream closes the link; a `reset` or the link's loss ends the stream.
 *
 * @throws {RelayError} `protocol_error` (reset, data before the handshake, bad message 2)
 * or `connect_failed` (timeout, link closed).
 * @example
 * ```ts
 * import { openNoiseHarnessStream } from "./noise_harness.ts";
 * declare const link: import("./link.ts").RelayLink;
 * declare const options: import("./noise_harness.ts").NoiseHarnessOptions;
 * const transport = await openNoiseHarnessStream(link, options);
 * await transport.send('{"id":1,"method":"initialize","params":{"clientName":"x"}}');
 * ```
 */
export async function openNoiseHarnessStream(
  link: RelayLink,
  options: NoiseHarnessOptions,
): Promise<NoiseRelayTransport> {
  const streamId = options.streamId ?? crypto.randomUUID();
  const { bundle } = options;
  const tap = options.tap;
  const send = (frame: Uint8Array) => {
    tap?.("out", frame);
    link.send(frame);
  };
  const initiator = new HybridIkInitiator({
    prologue: noisePrologue({
      environmentId: bundle.environmentId,
      registrationId: bundle.registrationId,
      streamId,
    }),
    localStatic: options.harnessKey,
    remoteStatic: bundle.executorKey,
    entropy: options.entropy,
  });
  const handshake = Promise.withResolvers<Uint8Array>();
  let stream: NoiseStream | undefined;
  const fail = (why: string) => {
    handshake.reject(new RelayError("protocol_error", why));
  };
  link.attach({
    onMessage(data) {
      if (typeof data === "string") return;
      tap?.("in", data);
      let frame: RelayMessageFrame;
      try {
        frame = decodeFrame(data);
      } catch (error) {
        if (!stream) fail(`invalid frame during the handshake: ${(error as Error).message}`);
        return;
      }
      if (frame.streamId !== streamId) return;
      const body = frame.body;
      if (!stream) {
        if (body.case === "handshake") handshake.resolve(body.value.payload);
        else if (body.case === "reset") {
          fail(`Noise relay stream reset (${body.value.reason.slice(0, 256)})`);
        } else if (body.case === "data") {
          fail("Noise relay received data before handshake completion");
        }
        return;
      }
      if (body.case === "data") {
        if (body.value.segmentCount !== 1) return;
        const current = stream;
        current.deliver(body.value.seq, body.value.payload, (error) => {
          current.end(`protocol error: ${error.message}`);
          link.close();
        });
      } else if (body.case === "reset") {
        stream.end(`Noise relay stream reset (${body.value.reason.slice(0, 256)})`);
        link.close();
      } else if (body.case === "handshake") {
        stream.end("invalid post-handshake frame");
        link.close();
      }
    },
    onClose(reason) {
      fail(`the relay connection closed during the handshake (${reason})`);
      stream?.end(`relay connection lost: ${reason}`);
    },
  });
  const timeoutMs = options.handshakeTimeoutMs ?? 10_000;
  const timer = setTimeout(
    () => fail(`no Noise handshake answer within ${timeoutMs} ms`),
    timeoutMs,
  );
  try {
    send(encodeFrame({ streamId, body: { case: "resume", value: { nextSeq: 0 } } }));
    const message1 = await initiator.writeMessage1(new TextEncoder().encode(bundle.authorization));
    send(encodeFrame({ streamId, body: { case: "handshake", value: { payload: message1 } } }));
    const ciphers = await initiator.readMessage2(await handshake.promise);
    const tappedLink: RelayLink = tap
      ? {
        label: link.label,
        get bufferedAmount() {
          return link.bufferedAmount;
        },
        send,
        attach: link.attach,
        close: () => link.close(),
        setReading: link.setReading && ((reading) => link.setReading!(reading)),
      }
      : link;
    stream = new NoiseStream({
      id: streamId,
      label: `noise relay stream ${streamId} via ${link.label}`,
      channel: new NoiseChannel(ciphers),
      link: tappedLink,
      // The link carries this stream alone: a consumer behind stops reading it (TCP
      // backpressure through the rendezvous to the executor) instead of failing the stream.
      pauseLinkWhenBehind: true,
      onEnd: () => link.close(),
    });
    return stream;
  } catch (error) {
    link.close();
    if (error instanceof RelayError) throw error;
    throw new RelayError("protocol_error", `Noise handshake failed: ${(error as Error).message}`);
  } finally {
    clearTimeout(timer);
  }
}
