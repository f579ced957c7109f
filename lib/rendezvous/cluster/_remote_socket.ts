/**
 * A harness socket that lives on another node, seen from the executor's node as the part of a
 * `WebSocket` the hub uses (`send`, `close`, `readyState`, `bufferedAmount`, `message` and
 * `close` events). The hub therefore routes, owns streams, paces, bounds queues and resets on
 * close for remote harnesses with exactly the code it runs for local ones.
 * @module
 */
import { headers } from "@nats-io/nats-core";
import type { NatsOutbox } from "./_nats_outbox.ts";

/** Header naming a control message (no header: the payload is one relay frame). */
export const OP_HEADER = "rdv-op";

/**
 * The executor node's stand-in for one harness socket on another node.
 * @example
 * ```ts ignore
 * const remote = new RemoteSocket(outbox, "rdv.x.e1.h.n2.k1", { allowClose: () => true });
 * hub.attachHarness(remote as unknown as WebSocket, "harness via n2");
 * remote.deliver(frameBytes);
 * ```
 */
export class RemoteSocket extends EventTarget {
  readonly subject: string;
  binaryType: BinaryType = "arraybuffer";
  #state: number = WebSocket.OPEN;
  #outbox: NatsOutbox;
  #allowClose: () => boolean;

  constructor(outbox: NatsOutbox, subject: string, options: { allowClose: () => boolean }) {
    super();
    this.#outbox = outbox;
    this.subject = subject;
    this.#allowClose = options.allowClose;
  }

  get readyState(): number {
    return this.#state;
  }

  /** Shared by every sender of the node: the NATS link is what is (or is not) draining. */
  get bufferedAmount(): number {
    return this.#outbox.bufferedAmount;
  }

  /** One frame to the harness node. */
  send(data: Uint8Array | ArrayBuffer): void {
    if (this.#state !== WebSocket.OPEN) return;
    const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
    this.#outbox.publish(this.subject, bytes);
  }

  /** The hub closes the harness: tell its node (unless the executor moved on), then end. */
  close(code = 1000, reason = ""): void {
    if (this.#state !== WebSocket.OPEN) return;
    if (this.#allowClose()) {
      const h = headers();
      h.set(OP_HEADER, "close");
      h.set("rdv-code", String(code));
      h.set("rdv-reason", reason.slice(0, 120));
      this.#outbox.publish(this.subject, new Uint8Array(0), { headers: h });
    }
    this.closed(code, reason);
  }

  /** The harness socket is gone (its node said so, or died): the hub resets its streams. */
  closed(code = 1006, reason = "harness node gone"): void {
    if (this.#state === WebSocket.CLOSED) return;
    this.#state = WebSocket.CLOSED;
    this.dispatchEvent(new CloseEvent("close", { code, reason, wasClean: code !== 1006 }));
  }

  /** A frame from the harness. */
  deliver(bytes: Uint8Array): void {
    if (this.#state !== WebSocket.OPEN) return;
    // A copy: NATS hands out views (node Buffers, whose slice() does not copy) into its
    // read buffer.
    const data = new Uint8Array(bytes).buffer;
    this.dispatchEvent(new MessageEvent("message", { data }));
  }
}
