/**
 * Test helpers: a JSON-RPC-ish echo handler served over any transport, deadlines, and
 * collecting log lines.
 * @module
 */
import type { Inbound, MessageTransport } from "../../lib/transport/types.ts";

const decoder = new TextDecoder();

/** Text of one inbound message (the relay delivers UTF-8 bytes). */
export function textOf(item: Inbound): string {
  if (typeof item === "string") return item;
  if (item instanceof Uint8Array) return decoder.decode(item);
  return `<oversized ${item.limit}>`;
}

/**
 * Answers every `{id, method, params}` with `{id, result: params}` until the transport ends;
 * `{method: "close"}` closes it. Returns everything received.
 */
export async function serveEcho(transport: MessageTransport): Promise<string[]> {
  const seen: string[] = [];
  for await (const item of transport.receive()) {
    const text = textOf(item);
    seen.push(text);
    const message = JSON.parse(text);
    if (message.method === "close") {
      transport.close();
      break;
    }
    await transport.send(JSON.stringify({ id: message.id, result: message.params }));
  }
  return seen;
}

/** Rejects after `ms` with a message naming `what`. */
export async function within<T>(ms: number, what: string, work: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Waits until `condition()` holds, polling; throws after `ms`. */
export async function until(ms: number, what: string, condition: () => boolean): Promise<void> {
  const deadline = performance.now() + ms;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${ms} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** A log sink that keeps lines for assertions. */
export function captureLog(): { lines: string[]; log: (line: string) => void } {
  const lines: string[] = [];
  return { lines, log: (line) => lines.push(line) };
}
