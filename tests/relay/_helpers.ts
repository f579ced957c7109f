/**
 * Test helpers: a JSON-RPC-ish echo handler served over any transport, deadlines, and
 * collecting log lines.
 * @module
 */
import type { Inbound, MessageTransport } from "../../lib/transport/types.ts";

export { until, within } from "../_deadline.ts";

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

/** A log sink that keeps lines for assertions. */
export function captureLog(): { lines: string[]; log: (line: string) => void } {
  const lines: string[] = [];
  return { lines, log: (line) => lines.push(line) };
}
