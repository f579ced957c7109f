/**
 * A fast path beside npm `ws` for the frames nearly all traffic consists of: whole, final,
 * uncompressed data frames. On a server socket, a read that holds such client frames (masked,
 * under the message limit, text that is valid UTF-8) while `ws`'s parser is idle is unmasked here
 * and delivered as `ws` would deliver it (its `message` event); anything else (control frames,
 * fragments, partial frames, oversized or invalid ones) goes to `ws` unchanged, which applies every
 * rule and limit as before. Sends that find nothing queued are framed here and written in one
 * piece. This skips the Node stream machinery and `ws`'s parsing loop, which cost more than the
 * whole JSON-RPC dispatch of a small request.
 * @module
 */
import { Buffer } from "node:buffer";
import type { ConnStream } from "./_conn_stream.ts";
import { wsInternals, type WsSocket } from "./_ws_lib.ts";

const utf8 = new TextEncoder();
const utf8Fatal = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const OPEN = 1;

/**
 * How many bytes at the start of `bytes` are whole, final, masked text/binary frames of at most
 * `maxPayload` bytes each; calls `onFrame` with each unmasked payload. Stops at the first frame
 * it does not take (or when `onFrame` returns false), leaving it and the rest to `ws`.
 */
function takeFrames(
  bytes: Uint8Array,
  maxPayload: number,
  onFrame: (data: Buffer | string, binary: boolean) => boolean,
): number {
  let offset = 0;
  while (bytes.length - offset >= 6) {
    const b0 = bytes[offset];
    const b1 = bytes[offset + 1];
    // FIN set, RSV clear, opcode text (1) or binary (2); masked (clients must mask).
    if ((b0 !== 0x81 && b0 !== 0x82) || (b1 & 0x80) === 0) break;
    let length = b1 & 0x7f;
    let head = offset + 2;
    if (length === 127) break; // 64-bit lengths: large messages, `ws`'s job
    if (length === 126) {
      if (bytes.length - offset < 8) break;
      length = (bytes[head] << 8) | bytes[head + 1];
      head += 2;
    }
    if (length > maxPayload || bytes.length - head - 4 < length) break;
    const m0 = bytes[head], m1 = bytes[head + 1], m2 = bytes[head + 2], m3 = bytes[head + 3];
    const start = head + 4;
    const payload = Buffer.allocUnsafe(length);
    for (let i = 0; i < length; i += 4) {
      payload[i] = bytes[start + i] ^ m0;
      payload[i + 1] = bytes[start + i + 1] ^ m1;
      payload[i + 2] = bytes[start + i + 2] ^ m2;
      payload[i + 3] = bytes[start + i + 3] ^ m3;
    }
    const binary = b0 === 0x82;
    let data: Buffer | string = payload;
    if (!binary) {
      // Validated and decoded in one pass; invalid UTF-8 is left to `ws` (1007, as before).
      try {
        data = utf8Fatal.decode(payload);
      } catch {
        break;
      }
    }
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
export function serverTextFrame(text: string): Uint8Array {
  const length = Buffer.byteLength(text);
  const head = length < 126 ? 2 : length < 65536 ? 4 : 10;
  const frame = new Uint8Array(head + length);
  frame[0] = 0x81;
  if (head === 2) {
    frame[1] = length;
  } else if (head === 4) {
    frame[1] = 126;
    frame[2] = length >>> 8;
    frame[3] = length & 0xff;
  } else {
    frame[1] = 127;
    new DataView(frame.buffer).setBigUint64(2, BigInt(length));
  }
  utf8.encodeInto(text, frame.subarray(head));
  return frame;
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
  stream.readHook = (bytes) => {
    if (socket.readyState !== OPEN || !ws.receiverIdle()) return 0;
    const binaryType = socket.binaryType;
    if (binaryType !== "nodebuffer" && binaryType !== "arraybuffer") return 0;
    return takeFrames(bytes, maxPayload, deliver);
  };
  const send = socket.send.bind(socket);
  socket.send = (data: string | Uint8Array, ...rest: unknown[]) => {
    if (
      typeof data === "string" && rest.length === 0 && socket.readyState === OPEN &&
      ws.senderIdle() && stream.canWriteDirect()
    ) {
      stream.writeDirect(serverTextFrame(data));
      return;
    }
    (send as (...args: unknown[]) => void)(data, ...rest);
  };
}
