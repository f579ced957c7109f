/**
 * Noise transport records as codex frames them inside relay `data` frames: per direction, a
 * byte stream of `u32be length ‖ JSON` messages cut into records of at most 61 440 plaintext
 * bytes, each one AES-GCM record whose nonce equals its relay `seq`; plus the receiver's
 * ordered-ciphertext buffer (records are decrypted strictly in `seq` order).
 * @module
 */
import { NoiseError } from "./errors.ts";
import type { TransportCiphers } from "./hybrid_ik.ts";

/**
 * Largest plaintext of one record (60 KiB).
 * @example
 * ```ts
 * import { NOISE_RECORD_PLAINTEXT_BYTES } from "./records.ts";
 * NOISE_RECORD_PLAINTEXT_BYTES; // 61440
 * ```
 */
export const NOISE_RECORD_PLAINTEXT_BYTES = 60 * 1024;

/**
 * Largest inner JSON-RPC message (64 MiB, upstream's `MAX_NOISE_JSONRPC_MESSAGE_LEN`).
 * @example
 * ```ts
 * import { MAX_NOISE_MESSAGE_BYTES } from "./records.ts";
 * MAX_NOISE_MESSAGE_BYTES; // 67108864
 * ```
 */
export const MAX_NOISE_MESSAGE_BYTES = 64 * 1024 * 1024;

/**
 * Reorder limits of the receiver (upstream's: 64 seqs ahead, 64 records, 1 MiB pending).
 * @example
 * ```ts
 * import { REORDER_LIMITS } from "./records.ts";
 * REORDER_LIMITS.window; // 64
 * ```
 */
export const REORDER_LIMITS = { window: 64, records: 64, bytes: 1024 * 1024 } as const;

/**
 * One sealed record and the relay `seq` it must travel with.
 * @example
 * ```ts
 * import type { SealedRecord } from "./records.ts";
 * const r: SealedRecord = { seq: 0, record: new Uint8Array(16) };
 * ```
 */
export interface SealedRecord {
  /** The relay `seq` (equal to the record nonce). */
  seq: number;
  /** AES-GCM ciphertext with its 16-byte tag. */
  record: Uint8Array;
}

/**
 * Throws unless `length` is a valid inner message length (1 byte to 64 MiB).
 *
 * @throws {NoiseError} `invalid_record`.
 * @example
 * ```ts
 * import { checkMessageLength } from "./records.ts";
 * checkMessageLength(2); // ok
 * ```
 */
export function checkMessageLength(length: number): void {
  if (length === 0 || length > MAX_NOISE_MESSAGE_BYTES) {
    throw new NoiseError(
      "invalid_record",
      `a Noise JSON-RPC message must be 1-${MAX_NOISE_MESSAGE_BYTES} bytes, not ${length}`,
    );
  }
}

/**
 * Cuts `u32be(len) ‖ message` into plaintext chunks of at most 61 440 bytes.
 *
 * @example
 * ```ts
 * import { frameMessage } from "./records.ts";
 * frameMessage(new Uint8Array(100_000)).map((c) => c.length); // [61440, 38564]
 * ```
 */
export function frameMessage(message: Uint8Array): Uint8Array[] {
  return frameMessages([message]);
}

/**
 * Cuts the byte stream `u32be(len₁) ‖ message₁ ‖ u32be(len₂) ‖ message₂ …` into plaintext
 * chunks of at most 61 440 bytes: small messages share a record, as upstream's writer does,
 * so a burst of 8 KiB output notifications costs one record (and one relay frame) per 60 KiB
 * instead of one each.
 *
 * @throws {NoiseError} `invalid_record` for an empty or oversized message.
 * @example
 * ```ts
 * import { frameMessages } from "./records.ts";
 * frameMessages([new Uint8Array(30_000), new Uint8Array(40_000)]).map((c) => c.length);
 * // [61440, 8568]
 * ```
 */
export function frameMessages(messages: readonly Uint8Array[]): Uint8Array[] {
  let total = 0;
  for (const message of messages) {
    checkMessageLength(message.length);
    total += 4 + message.length;
  }
  const chunks: Uint8Array[] = [];
  let chunk = new Uint8Array(Math.min(total, NOISE_RECORD_PLAINTEXT_BYTES));
  let fill = 0;
  let left = total;
  const put = (bytes: Uint8Array) => {
    for (let offset = 0; offset < bytes.length;) {
      if (fill === chunk.length) {
        chunks.push(chunk);
        left -= fill;
        chunk = new Uint8Array(Math.min(left, NOISE_RECORD_PLAINTEXT_BYTES));
        fill = 0;
      }
      const take = Math.min(chunk.length - fill, bytes.length - offset);
      chunk.set(bytes.subarray(offset, offset + take), fill);
      fill += take;
      offset += take;
    }
  };
  const header = new Uint8Array(4);
  const view = new DataView(header.buffer);
  for (const message of messages) {
    view.setUint32(0, message.length, false);
    put(header);
    put(message);
  }
  if (fill > 0) chunks.push(chunk);
  return chunks;
}

/**
 * Reassembles `u32be(len) ‖ message` frames from decrypted records (one record may finish
 * several messages, one message may span many records). Memory is bounded by one message.
 *
 * @example
 * ```ts
 * import { frameMessage, InnerFrameDecoder } from "./records.ts";
 * const decoder = new InnerFrameDecoder();
 * const [chunk] = frameMessage(new TextEncoder().encode("{}"));
 * decoder.push(chunk); // [Uint8Array "{}"]
 * ```
 */
export class InnerFrameDecoder {
  #header = new Uint8Array(4);
  #headerFill = 0;
  #body: Uint8Array | undefined;
  #bodyFill = 0;

  /** Bytes of an unfinished message held. */
  get pendingBytes(): number {
    return this.#headerFill + this.#bodyFill;
  }

  /**
   * Feeds one record's plaintext; returns the messages it completed.
   * @throws {NoiseError} `invalid_record` for an oversized record or a bad length.
   */
  push(plaintext: Uint8Array): Uint8Array[] {
    if (plaintext.length > NOISE_RECORD_PLAINTEXT_BYTES) {
      throw new NoiseError(
        "invalid_record",
        `Noise record plaintext of ${plaintext.length} bytes exceeds ${NOISE_RECORD_PLAINTEXT_BYTES}`,
      );
    }
    const out: Uint8Array[] = [];
    let offset = 0;
    while (offset < plaintext.length) {
      if (!this.#body) {
        const take = Math.min(4 - this.#headerFill, plaintext.length - offset);
        this.#header.set(plaintext.subarray(offset, offset + take), this.#headerFill);
        this.#headerFill += take;
        offset += take;
        if (this.#headerFill < 4) break;
        const length = new DataView(this.#header.buffer).getUint32(0, false);
        if (length === 0 || length > MAX_NOISE_MESSAGE_BYTES) {
          throw new NoiseError(
            "invalid_record",
            `Noise JSON-RPC frame length ${length} is outside 1-${MAX_NOISE_MESSAGE_BYTES}`,
          );
        }
        this.#body = new Uint8Array(length);
        this.#bodyFill = 0;
        this.#headerFill = 0;
      }
      const take = Math.min(this.#body.length - this.#bodyFill, plaintext.length - offset);
      this.#body.set(plaintext.subarray(offset, offset + take), this.#bodyFill);
      this.#bodyFill += take;
      offset += take;
      if (this.#bodyFill === this.#body.length) {
        out.push(this.#body);
        this.#body = undefined;
        this.#bodyFill = 0;
      }
    }
    return out;
  }
}

/**
 * The receiver's ordered-ciphertext buffer: duplicates and old seqs are dropped, the next
 * expected seq releases every contiguous record, a seq too far ahead (or too much pending) is
 * a protocol error.
 *
 * @example
 * ```ts
 * import { ReorderBuffer } from "./records.ts";
 * const buffer = new ReorderBuffer();
 * buffer.accept(1, new Uint8Array(16)); // [] (held)
 * buffer.accept(0, new Uint8Array(16)).length; // 2
 * ```
 */
export class ReorderBuffer {
  #next = 0;
  #pending = new Map<number, Uint8Array>();
  #pendingBytes = 0;

  /** The next seq expected. */
  get nextSeq(): number {
    return this.#next;
  }

  /**
   * @returns the records now deliverable, in order.
   * @throws {NoiseError} `reorder_overflow`.
   */
  /** Takes one record; returns every record now deliverable, in order. */
  accept(seq: number, record: Uint8Array): Uint8Array[] {
    if (seq < this.#next || this.#pending.has(seq)) return [];
    if (seq > this.#next) {
      if (seq - this.#next > REORDER_LIMITS.window) {
        throw new NoiseError(
          "reorder_overflow",
          `Noise record seq ${seq} exceeds the reorder window (next ${this.#next})`,
        );
      }
      if (
        this.#pending.size >= REORDER_LIMITS.records ||
        this.#pendingBytes + record.length > REORDER_LIMITS.bytes
      ) {
        throw new NoiseError("reorder_overflow", "Noise pending ciphertext buffer is full");
      }
      this.#pending.set(seq, record);
      this.#pendingBytes += record.length;
      return [];
    }
    const out = [record];
    this.#next++;
    for (let held = this.#pending.get(this.#next); held; held = this.#pending.get(this.#next)) {
      this.#pending.delete(this.#next);
      this.#pendingBytes -= held.length;
      out.push(held);
      this.#next++;
    }
    return out;
  }
}

/**
 * Both directions of an established Noise session: seals outgoing JSON-RPC messages into
 * `seq`-numbered records and opens incoming records (reordered by `seq`) into messages.
 *
 * @example
 * ```ts
 * import { NoiseChannel } from "./records.ts";
 * declare const ciphers: import("./hybrid_ik.ts").TransportCiphers;
 * const channel = new NoiseChannel(ciphers);
 * const records = await channel.seal(new TextEncoder().encode('{"id":1,"method":"initialize"}'));
 * ```
 */
export class NoiseChannel {
  #ciphers: TransportCiphers;
  #reorder = new ReorderBuffer();
  #decoder = new InnerFrameDecoder();
  #opening: Promise<unknown> = Promise.resolve();

  /** Wraps the transport ciphers of a finished handshake. */
  constructor(ciphers: TransportCiphers) {
    this.#ciphers = ciphers;
  }

  /**
   * Seals one message. Seqs (= nonces) are taken when the call starts, so concurrent calls
   * keep the order they were made in.
   */
  seal(message: Uint8Array): Promise<SealedRecord[]> {
    return this.sealAll([message]);
  }

  /**
   * Seals several messages as one byte stream (they share records where they fit), in order;
   * seqs are taken when the call starts, like {@linkcode NoiseChannel.seal}.
   * @throws {NoiseError} `invalid_record` (synchronously) for an empty or oversized message.
   */
  sealAll(messages: readonly Uint8Array[]): Promise<SealedRecord[]> {
    const chunks = frameMessages(messages);
    return Promise.all(chunks.map(async (chunk) => {
      const seq = this.#ciphers.send.nonce;
      const record = await this.#ciphers.send.encryptWithAd(new Uint8Array(0), chunk);
      return { seq, record };
    }));
  }

  /**
   * Takes one received record (any order); resolves with the messages it completed.
   * Calls are serialised internally.
   * @throws {NoiseError} on reorder overflow, authentication failure or bad framing (fatal).
   */
  open(seq: number, record: Uint8Array): Promise<Uint8Array[]> {
    let ready: Uint8Array[];
    try {
      ready = this.#reorder.accept(seq, record);
    } catch (error) {
      return Promise.reject(error);
    }
    const decrypts = Promise.all(
      ready.map((r) => this.#ciphers.receive.decryptWithAd(new Uint8Array(0), r)),
    );
    // Handled here so a failure before the serialised step awaits it is not "unhandled".
    decrypts.catch(() => {});
    const result = this.#opening.then(async () => {
      const out: Uint8Array[] = [];
      for (const plaintext of await decrypts) out.push(...this.#decoder.push(plaintext));
      return out;
    });
    this.#opening = result.catch(() => {});
    return result;
  }
}
