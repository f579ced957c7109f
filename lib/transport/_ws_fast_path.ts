/**
 * A fast path beside npm `ws` for the frames nearly all traffic consists of: whole, final,
 * uncompressed data frames. On a server socket, a read that holds such client frames (masked, under
 * the message limit, text that is valid UTF-8; a frame a read cuts is completed by the reads after
 * it) while `ws`'s parser is idle is unmasked here and delivered as `ws` would deliver it (its
 * `message` event); anything else (control frames, fragments, oversized or invalid ones) goes to
 * `ws` unchanged, which applies every rule and limit as before. Sends (text and binary) that find
 * nothing queued are framed here and written in one piece. This skips the Node stream machinery and
 * `ws`'s parsing loop, which cost more than the whole JSON-RPC dispatch of a small request.
 * @module
 */
import { Buffer, isUtf8 } from "node:buffer";
import type { ConnStream } from "./_conn_stream.ts";
import { wsInternals, type WsSocket } from "./_ws_lib.ts";
import {
  ARENA_BUFFER_BYTES,
  releaseFrameBuffer,
  takeFrameBuffer,
  unmaskInPlace,
} from "./_frame_arena.ts";
import { xorMaskInPlace } from "../util/ws_mask.ts";

const utf8 = new TextEncoder();
const utf8Fatal = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const utf8Checked = new TextDecoder("utf-8", { ignoreBOM: true });
const OPEN = 1;
const CLOSED = 3;
/**
 * A cut frame at least this long is filled into an arena buffer (see below); a shorter one gets
 * a buffer of its own size.
 */
const LARGE_FRAME_BYTES = 64 * 1024;
/** A message sent at least this long (text characters, binary bytes) goes into the write batch. */
const BATCHED_BYTES = 1024;
/**
 * A large frame goes into an arena buffer (2 MiB: a 1 MiB upload block's message, base64 and
 * JSON, fits) and moves to one twice as big each time it fills: a peer that announces a 64 MiB
 * frame and sends nothing more holds 2 MiB, not 64 MiB.
 */

/**
 * A whole, final, masked data frame that one read does not hold, filled straight from the socket
 * into its own buffer (no copy into `ws`'s chunk list, no join, no byte-wise unmask). Reads never
 * go past its end, so the read after it starts at a frame boundary and the fast path goes on:
 * a frame cut by a read used to go to `ws`, and under a steady stream of frames `ws`'s parser
 * was then never idle again (every relay link carried its 60 KiB segments through `ws`).
 */
class LargeFrame {
  readonly header: Uint8Array;
  readonly length: number;
  /** An arena buffer, or (once outgrown) a plain array; possibly longer than the frame. */
  #buffer: Uint8Array<ArrayBuffer>;
  #filled: number;

  /** `header` ends with the 4 mask bytes; `first` is the start of the payload (shorter than `length`). */
  constructor(header: Uint8Array, length: number, first: Uint8Array) {
    this.header = header.slice();
    this.length = length;
    // Stale bytes of a reused buffer never show: only what the socket filled is handed on. A
    // frame under LARGE_FRAME_BYTES gets a buffer of its own size (as much as one read holds).
    this.#buffer = length < LARGE_FRAME_BYTES
      ? new Uint8Array(length)
      : first.length <= ARENA_BUFFER_BYTES
      ? takeFrameBuffer()
      : new Uint8Array(Math.min(length, first.length * 2));
    this.#buffer.set(first);
    this.#filled = first.length;
  }

  get binary(): boolean {
    return this.header[0] === 0x82;
  }

  /** Where the next read goes: never past the frame's end, so no byte of the next frame. */
  target(): Uint8Array {
    if (this.#filled === this.#buffer.length) {
      const grown = new Uint8Array(Math.min(this.length, this.#buffer.length * 2));
      grown.set(this.#buffer);
      releaseFrameBuffer(this.#buffer);
      this.#buffer = grown;
    }
    return this.#buffer.subarray(this.#filled, Math.min(this.length, this.#buffer.length));
  }

  /** `n` bytes landed in {@link target}; true once the frame is whole. */
  filled(n: number): boolean {
    this.#filled += n;
    return this.#filled === this.length;
  }

  /**
   * The payload, (un)masked in place (applying it twice restores the bytes as received). It
   * lives in the frame's buffer: copy what must outlive {@link release}.
   */
  toggleMask(): Buffer {
    const payload = this.#buffer.subarray(0, this.length);
    unmaskInPlace(payload, this.header.subarray(this.header.length - 4));
    return Buffer.from(payload.buffer, payload.byteOffset, this.length);
  }

  /** Whether {@link toggleMask}'s bytes must be copied before they are handed on. */
  get reused(): boolean {
    return this.#buffer.length === ARENA_BUFFER_BYTES;
  }

  /** The frame's buffer may serve another frame (nothing may refer to it any more). */
  release(): void {
    releaseFrameBuffer(this.#buffer);
  }
}

/** A large text payload as a string, or null when it is not valid UTF-8. */
function largeText(payload: Buffer): string | null {
  // Checked natively first: a fatal TextDecoder is 7x slower than this check plus a plain decode.
  return isUtf8(payload) ? utf8Checked.decode(payload) : null;
}

/**
 * Bytes of a client (masked) header starting `b0 b1` at `offset`, or 2 while only `b0` is known.
 */
function clientHeaderBytes(bytes: Uint8Array, offset: number): number {
  if (bytes.length - offset < 2) return 2;
  const code = bytes[offset + 1] & 0x7f;
  return 2 + (code === 127 ? 8 : code === 126 ? 2 : 0) + 4;
}

/**
 * The payload length of the whole client header at `offset` (its first byte already checked by
 * {@link isDataFrameStart}), or -1 when the fast path does not take the frame: not masked
 * (clients must mask), over 4 GiB or over `maxPayload` (`ws` then closes with its error).
 */
function payloadLength(bytes: Uint8Array, offset: number, maxPayload: number): number {
  const b1 = bytes[offset + 1];
  if ((b1 & 0x80) === 0) return -1;
  const head = offset + 2;
  let length = b1 & 0x7f;
  if (length === 127) {
    if (bytes[head] | bytes[head + 1] | bytes[head + 2] | bytes[head + 3]) return -1;
    length = ((bytes[head + 4] << 24) | (bytes[head + 5] << 16) | (bytes[head + 6] << 8) |
      bytes[head + 7]) >>> 0;
  } else if (length === 126) {
    length = (bytes[head] << 8) | bytes[head + 1];
  }
  return length > maxPayload ? -1 : length;
}

/** FIN set, RSV clear, opcode text (1) or binary (2). */
function isDataFrameStart(b0: number): boolean {
  return b0 === 0x81 || b0 === 0x82;
}

/**
 * The first bytes (under 14) of a header one read cut: completed by reads of exactly the bytes
 * it lacks, then handed on as a {@link LargeFrame} (or, when the fast path does not take the
 * frame, to `ws` as it arrived).
 */
class PartialHeader {
  #bytes = new Uint8Array(14);
  #have: number;

  constructor(first: Uint8Array) {
    this.#bytes.set(first);
    this.#have = first.length;
  }

  target(): Uint8Array {
    return this.#bytes.subarray(
      this.#have,
      clientHeaderBytes(this.#bytes.subarray(0, this.#have), 0),
    );
  }

  /**
   * `n` bytes landed in {@link target}: the whole header once it is complete (or its first two
   * bytes, when they show an unmasked frame the fast path does not take), else null.
   */
  filled(n: number): Uint8Array | null {
    this.#have += n;
    const bytes = this.#bytes.subarray(0, this.#have);
    if (this.#have === clientHeaderBytes(bytes, 0)) return bytes;
    return this.#have >= 2 && !(bytes[1] & 0x80) ? bytes : null;
  }
}

/**
 * How many bytes at the start of `bytes` are whole, final, masked text/binary frames of at most
 * `maxPayload` bytes each; calls `onFrame` with each unmasked payload. A frame the read cuts at
 * its end goes to `onLarge` (its header whole) or `onPartialHeader`, and counts as taken. Stops
 * at the first frame it does not take (or when `onFrame` returns false), leaving it and the rest
 * to `ws`.
 */
function takeFrames(
  bytes: Uint8Array,
  maxPayload: number,
  onFrame: (data: Buffer | string, binary: boolean) => boolean,
  onLarge: (frame: LargeFrame) => void,
  onPartialHeader: (header: PartialHeader) => void,
): number {
  let offset = 0;
  while (offset < bytes.length) {
    const b0 = bytes[offset];
    if (!isDataFrameStart(b0) || (bytes.length - offset >= 2 && !(bytes[offset + 1] & 0x80))) {
      break;
    }
    const headLength = clientHeaderBytes(bytes, offset);
    if (bytes.length - offset < headLength) {
      onPartialHeader(new PartialHeader(bytes.subarray(offset)));
      return bytes.length;
    }
    const length = payloadLength(bytes, offset, maxPayload);
    if (length < 0) break;
    const head = offset + headLength - 4;
    if (bytes.length - head - 4 < length) {
      // The rest of this read is the start of the frame; the reads that follow fill it.
      onLarge(new LargeFrame(bytes.subarray(offset, head + 4), length, bytes.subarray(head + 4)));
      return bytes.length;
    }
    const start = head + 4;
    const mask = bytes.subarray(head, start);
    let data: Buffer | string;
    if (b0 === 0x82) {
      data = Buffer.allocUnsafe(length);
      data.set(bytes.subarray(start, start + length));
      // Word-wise: the byte loop here was the rendezvous's largest JS cost after the socket write.
      xorMaskInPlace(data, mask, 0, length);
    } else {
      // Text is unmasked where it lies (bytes this read hands on are never these) and validated
      // and decoded in one pass; invalid UTF-8 is masked back and left to `ws` (1007, as before).
      xorMaskInPlace(bytes, mask, start, length);
      try {
        data = utf8Fatal.decode(bytes.subarray(start, start + length));
      } catch {
        xorMaskInPlace(bytes, mask, start, length);
        break;
      }
    }
    const binary = b0 === 0x82;
    offset = start + length;
    if (!onFrame(data, binary)) break;
  }
  return offset;
}

/**
 * One unmasked (server-to-client) frame of `text`, header and payload in one buffer.
 *
 * @example
 * ```ts
 * serverTextFrame("hi"); // Uint8Array [0x81, 2, 0x68, 0x69]
 * ```
 */
export function serverTextFrame(
  text: string,
  allocate: (length: number) => Uint8Array = (length) => new Uint8Array(length),
): Uint8Array {
  const length = Buffer.byteLength(text);
  const frame = allocate(serverHeaderBytes(length) + length);
  utf8.encodeInto(text, frame.subarray(writeServerHeader(frame, 0x81, length)));
  return frame;
}

/**
 * One unmasked (server-to-client) binary frame of `payload`, header and payload in one buffer.
 *
 * @example
 * ```ts
 * serverBinaryFrame(new Uint8Array([7])); // Uint8Array [0x82, 1, 7]
 * ```
 */
export function serverBinaryFrame(
  payload: Uint8Array,
  allocate: (length: number) => Uint8Array = (length) => new Uint8Array(length),
): Uint8Array {
  const length = payload.length;
  const frame = allocate(serverHeaderBytes(length) + length);
  frame.set(payload, writeServerHeader(frame, 0x82, length));
  return frame;
}

function serverHeaderBytes(length: number): number {
  return length < 126 ? 2 : length < 65536 ? 4 : 10;
}

/** Writes FIN + `opcode` and the unmasked length; returns where the payload starts. */
function writeServerHeader(frame: Uint8Array, opcode: number, length: number): number {
  const head = serverHeaderBytes(length);
  frame[0] = opcode;
  if (head === 2) {
    frame[1] = length;
  } else if (head === 4) {
    frame[1] = 126;
    frame[2] = length >>> 8;
    frame[3] = length & 0xff;
  } else {
    frame[1] = 127;
    new DataView(frame.buffer, frame.byteOffset).setBigUint64(2, BigInt(length));
  }
  return head;
}

/**
 * Puts the fast path in front of a server-side `ws` socket running over `stream`.
 *
 * @example
 * ```ts
 * import type { ConnStream } from "./_conn_stream.ts";
 * import type { WsSocket } from "./_ws_lib.ts";
 * declare const socket: WsSocket;
 * declare const stream: ConnStream;
 * installServerFastPath(socket, stream, 64 * 1024 * 1024);
 * ```
 */
export function installServerFastPath(
  socket: WsSocket,
  stream: ConnStream,
  maxPayload: number,
): void {
  const ws = wsInternals(socket);
  const deliver = (payload: Buffer | string, binary: boolean): boolean => {
    // Text arrives decoded: `ws`'s own listeners and its DOM wrapper take a string as they take
    // the Buffer `ws` would pass (the wrapper's `toString()` returns it unchanged).
    let data: unknown = payload;
    if (binary && socket.binaryType === "arraybuffer" && typeof payload !== "string") {
      data = payload.buffer.byteLength === payload.length
        ? payload.buffer
        : payload.buffer.slice(payload.byteOffset, payload.byteOffset + payload.length);
    }
    ws.emitMessage(data, binary);
    // A listener may have paused the socket (backpressure) or closed it: stop taking frames.
    return socket.readyState === OPEN && stream.readableFlowing === true;
  };
  let large: LargeFrame | null = null;
  let partial: PartialHeader | null = null;
  const startLarge = (frame: LargeFrame) => large = frame;
  const startPartial = (header: PartialHeader) => partial = header;
  stream.readHook = (bytes) => {
    if (socket.readyState !== OPEN || !ws.receiverIdle()) return 0;
    const binaryType = socket.binaryType;
    if (binaryType !== "nodebuffer" && binaryType !== "arraybuffer") return 0;
    return takeFrames(bytes, maxPayload, deliver, startLarge, startPartial);
  };
  const headerFilled = (header: Uint8Array) => {
    partial = null;
    const length = payloadLength(header, 0, maxPayload);
    if (length > 0) {
      large = new LargeFrame(header, length, header.subarray(header.length));
    } else {
      // Not ours to take (or empty): `ws` gets the header as it arrived, and what follows.
      stream.push(Buffer.from(header));
    }
  };
  stream.readInto = {
    target: () => large?.target() ?? partial?.target() ?? null,
    filled(n) {
      if (!large) {
        const header = partial!.filled(n);
        if (header) headerFilled(header);
        return;
      }
      const frame = large;
      if (!frame.filled(n)) return;
      large = null;
      const payload = frame.toggleMask();
      // A binary payload is handed on as is: copied out of a buffer the next frame reuses.
      const data = !frame.binary
        ? largeText(payload)
        : frame.reused
        ? Buffer.from(payload)
        : payload;
      if (data === null) {
        // Invalid UTF-8: `ws` gets the frame exactly as it arrived and closes with 1007.
        frame.toggleMask();
        const original = Buffer.from(payload);
        frame.release();
        stream.push(Buffer.from(frame.header));
        stream.push(original);
        return;
      }
      frame.release();
      if (socket.readyState !== CLOSED) deliver(data, frame.binary);
    },
    abandon() {
      // The connection ended mid-frame, and no read into the buffer is in flight any more.
      large?.release();
      large = null;
      partial = null;
    },
  };
  // Frames written here wait in `stream`, not in `ws`: the transports' backpressure reads
  // `bufferedAmount`, so it must count them too.
  const buffered = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(socket), "bufferedAmount");
  if (buffered?.get) {
    const get = buffered.get;
    Object.defineProperty(socket, "bufferedAmount", {
      get: () => (get.call(socket) as number) + stream.directBytes,
    });
  }
  const send = socket.send.bind(socket);
  const reserve = (length: number) => stream.reserveDirect(length);
  socket.send = (data: string | Uint8Array, ...rest: unknown[]) => {
    if (
      rest.length === 0 && socket.readyState === OPEN && ws.senderIdle() &&
      stream.canWriteDirect()
    ) {
      // Output notifications and relay segments (kilobytes each) are framed straight into the
      // stream's batch; small messages get a buffer of their own, not a batch of 256 KiB.
      const allocate = data.length >= BATCHED_BYTES ? reserve : undefined;
      if (typeof data === "string") return stream.writeDirect(serverTextFrame(data, allocate));
      if (data instanceof Uint8Array) return stream.writeDirect(serverBinaryFrame(data, allocate));
    }
    (send as (...args: unknown[]) => void)(data, ...rest);
  };
}
