/**
 * Newline-delimited JSON over a byte stream pair (stdio of this server, or of a spawned server).
 * Lines over the size limit are skipped without being buffered.
 * @module
 */
import { AsyncQueue } from "../util/async_queue.ts";
import { concatBytes } from "../util/bytes.ts";
import {
  type Inbound,
  MAX_MESSAGE_BYTES,
  type MessageTransport,
  OversizedMessage,
} from "./types.ts";

/** Options of {@link jsonLinesTransport}. */
export interface JsonLinesTransportOptions {
  label: string;
  readable: ReadableStream<Uint8Array>;
  writable: WritableStream<Uint8Array>;
  maxMessageBytes?: number;
}

const NEWLINE = 0x0a;
/** Messages read ahead of the consumer before reading pauses. */
const INBOUND_QUEUE_LIMIT = 64;
const encoder = new TextEncoder();

function isBlank(bytes: Uint8Array): boolean {
  for (const b of bytes) if (b !== 0x20 && b !== 0x09 && b !== 0x0d) return false;
  return true;
}

/**
 * Splits a byte stream into lines, replacing any line longer than `limit` by an
 * {@link OversizedMessage} while discarding its bytes as they arrive.
 *
 * @example
 * ```ts
 * for await (const line of splitLines(Deno.stdin.readable, 1024)) console.log(line);
 * ```
 */
export async function* splitLines(
  readable: ReadableStream<Uint8Array>,
  limit: number,
): AsyncGenerator<Uint8Array | OversizedMessage> {
  let parts: Uint8Array[] = [];
  let size = 0;
  let discarding = false;
  for await (const chunk of readable) {
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(NEWLINE, start);
      const end = nl === -1 ? chunk.length : nl;
      if (!discarding) {
        if (size + (end - start) > limit) {
          discarding = true;
          parts = [];
          size = 0;
        } else {
          parts.push(chunk.subarray(start, end));
          size += end - start;
        }
      }
      if (nl === -1) break;
      if (discarding) yield new OversizedMessage(limit);
      else {
        const line = parts.length === 1 ? parts[0].slice() : concatBytes(parts, size);
        if (!isBlank(line)) yield line;
      }
      parts = [];
      size = 0;
      discarding = false;
      start = nl + 1;
    }
  }
  if (discarding) yield new OversizedMessage(limit);
  else if (size > 0) {
    const line = concatBytes(parts, size);
    if (!isBlank(line)) yield line;
  }
}

/**
 * @example
 * ```ts
 * const t = jsonLinesTransport({
 *   label: "exec-server stdio",
 *   readable: Deno.stdin.readable,
 *   writable: Deno.stdout.writable,
 * });
 * ```
 */
export function jsonLinesTransport(options: JsonLinesTransportOptions): MessageTransport {
  const inbound = new AsyncQueue<Inbound>();
  const closed = Promise.withResolvers<void>();
  const writer = options.writable.getWriter();
  let isClosed = false;
  const finish = () => {
    if (isClosed) return;
    isClosed = true;
    inbound.close();
    closed.resolve();
  };
  (async () => {
    try {
      for await (
        const line of splitLines(options.readable, options.maxMessageBytes ?? MAX_MESSAGE_BYTES)
      ) {
        inbound.push(line);
        // Stop reading while the consumer is behind, so a fast writer cannot grow our memory.
        await inbound.belowLimit(INBOUND_QUEUE_LIMIT);
      }
    } catch {
      // a read error is a disconnect
    }
    finish();
  })();
  writer.closed.catch(() => finish());
  return {
    label: options.label,
    receive: () => inbound,
    async send(text: string) {
      if (isClosed) throw new Error("transport is closed");
      await writer.write(encoder.encode(text + "\n"));
    },
    close() {
      finish();
      writer.close().catch(() => {});
    },
    closed: closed.promise,
  };
}
