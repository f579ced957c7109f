/**
 * Relay frames between nodes of a cluster, over NATS subjects, byte for byte:
 *
 * - `rdv.x.<executor>.in`: frames for an executor, published by any node holding a harness
 *   socket for it, with the reply subject naming that socket; the node holding the executor's
 *   socket subscribes while it does (so when the executor moves, frames follow it);
 * - `rdv.x.<executor>.h.<node>.<socket>`: frames for one harness socket, and its `close`.
 *
 * On the executor's node each remote harness socket is a {@linkcode RemoteSocket} attached to
 * the executor's hub like a local one, so stream ownership, limits, pacing, bounded queues
 * and reset-on-close are the hub's own. The harness's node only relays (and bounds) bytes.
 * @module
 */
import type { Msg, NatsConnection, Subscription } from "@nats-io/nats-core";
import { headers } from "@nats-io/nats-core";
import type { ExecutorHub } from "../_hub.ts";
import { addQueueDepth, PacedSocket, type QueueDepths } from "../_paced_socket.ts";
import type { MetricFamily } from "../metrics.ts";
import { NatsOutbox } from "./_nats_outbox.ts";
import { OP_HEADER, RemoteSocket } from "./_remote_socket.ts";
import type { RegistryStore } from "./registry_store.ts";

/**
 * Options of {@linkcode FrameRouter}.
 * @example
 * ```ts
 * import type { FrameRouterOptions } from "./frame_router.ts";
 * const options: Partial<FrameRouterOptions> = { graceMs: 60_000, checkIntervalMs: 1000 };
 * ```
 */
export interface FrameRouterOptions {
  /** How long a forwarded harness socket waits for an executor online nowhere. */
  graceMs: number;
  /** Queue bound of each forwarded harness socket, and of the NATS backlog. */
  maxQueuedBytes: number;
  /** Queue (or flush) above this many bytes in flight. */
  highWaterBytes: number;
  /** How often liveness is checked (executor of forwarded sockets, nodes of remote ones). */
  checkIntervalMs: number;
  /** Most remote harness sockets one executor accepts. */
  maxRemoteSockets: number;
  log: (line: string) => void;
  debug: (line: string) => void;
}

/**
 * Counters of a {@linkcode FrameRouter}.
 * @example
 * ```ts
 * import type { FrameRouterStats } from "./frame_router.ts";
 * const s: FrameRouterStats = {
 *   forwardedSockets: 0, remoteSockets: 0, framesOut: 0, bytesOut: 0, framesIn: 0, bytesIn: 0,
 *   natsBufferedBytes: 0, dropsByReason: {},
 * };
 * ```
 */
export interface FrameRouterStats {
  /** Local harness sockets whose executor is on another node. */
  forwardedSockets: number;
  /** Harness sockets on other nodes attached to this node's executors. */
  remoteSockets: number;
  /** Frames/bytes published to NATS. */
  framesOut: number;
  bytesOut: number;
  /** Frames/bytes received from NATS. */
  framesIn: number;
  bytesIn: number;
  /** Bytes published and not yet confirmed by the server. */
  natsBufferedBytes: number;
  dropsByReason: Record<string, number>;
}

/**
 * Subject-safe routing ids: executor ids, and `E.<id>` for E5 environments (executor and node
 * ids are validated to the plain form, so the two never collide).
 */
const SAFE = /^(?:E\.)?[A-Za-z0-9_-]{1,256}$/;
const REPLY = /^rdv\.x\.((?:E\.)?[A-Za-z0-9_-]+)\.h\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$/;
/** Room for the NATS protocol line and headers within `max_payload`. */
const PAYLOAD_HEADROOM = 1024;

/** What the executor's node keeps per executor: its subscription and remote sockets. */
interface OwnerEndpoint {
  hub: ExecutorHub;
  subscription: Subscription;
  remotes: Map<string, RemoteSocket>;
}

/**
 * Cross-node forwarding for one rendezvous node.
 *
 * @example
 * ```ts ignore
 * const router = new FrameRouter(nc, store, options);
 * await startRendezvous({ hostname: "0.0.0.0", port: 9000, store, router });
 * ```
 */
export class FrameRouter {
  readonly #nc: NatsConnection;
  readonly #store: RegistryStore;
  readonly #options: FrameRouterOptions;
  readonly #outbox: NatsOutbox;
  readonly #owners = new Map<string, OwnerEndpoint>();
  readonly #forwarded = new Set<{ close(): void; paced: PacedSocket }>();
  readonly #drops: Record<string, number> = {};
  #framesIn = 0;
  #bytesIn = 0;
  #timer: ReturnType<typeof setInterval>;
  #checking = false;
  #checks = new Set<() => Promise<void>>();
  #detached = false;

  constructor(nc: NatsConnection, store: RegistryStore, options: FrameRouterOptions) {
    this.#nc = nc;
    this.#store = store;
    this.#options = options;
    this.#outbox = new NatsOutbox(nc, options.highWaterBytes);
    this.#timer = setInterval(() => this.#check(), options.checkIntervalMs);
  }

  /** Counters for `/metrics`. */
  stats(): FrameRouterStats {
    let remoteSockets = 0;
    for (const owner of this.#owners.values()) remoteSockets += owner.remotes.size;
    return {
      forwardedSockets: this.#forwarded.size,
      remoteSockets,
      framesOut: this.#outbox.published,
      bytesOut: this.#outbox.publishedBytes,
      framesIn: this.#framesIn,
      bytesIn: this.#bytesIn,
      natsBufferedBytes: this.#outbox.bufferedAmount,
      dropsByReason: { ...this.#drops },
    };
  }

  /** The router's own metric families. */
  metricFamilies(labels: Record<string, string>): MetricFamily[] {
    const s = this.stats();
    return [
      {
        name: "rendezvous_cluster_sockets",
        help: "Harness sockets crossing nodes: forwarded from here, or attached here from others",
        type: "gauge",
        samples: [
          { labels: { ...labels, side: "forwarded" }, value: s.forwardedSockets },
          { labels: { ...labels, side: "remote" }, value: s.remoteSockets },
        ],
      },
      {
        name: "rendezvous_cluster_frames_total",
        help: "Relay frames sent to and received from other nodes over NATS",
        type: "counter",
        samples: [
          { labels: { ...labels, direction: "out" }, value: s.framesOut },
          { labels: { ...labels, direction: "in" }, value: s.framesIn },
        ],
      },
      {
        name: "rendezvous_cluster_bytes_total",
        help: "Bytes of relay frames sent to and received from other nodes over NATS",
        type: "counter",
        samples: [
          { labels: { ...labels, direction: "out" }, value: s.bytesOut },
          { labels: { ...labels, direction: "in" }, value: s.bytesIn },
        ],
      },
      {
        name: "rendezvous_queue_bytes",
        help: "Bytes queued on this node, by queue",
        type: "gauge",
        samples: [{ labels: { ...labels, queue: "nats_in_flight" }, value: s.natsBufferedBytes }],
      },
    ];
  }

  /** Adds the queues of the harness sockets this node forwards to `depths`. */
  addQueueDepths(depths: QueueDepths): void {
    for (const entry of this.#forwarded) addQueueDepth(depths, entry.paced);
  }

  #drop(reason: string): void {
    this.#drops[reason] = (this.#drops[reason] ?? 0) + 1;
  }

  /** The executor's socket is now on this node: take the frames other nodes send it. */
  executorOnline(executorId: string, hub: ExecutorHub): void {
    if (this.#detached || !SAFE.test(executorId)) return;
    const existing = this.#owners.get(executorId);
    if (existing) return;
    const remotes = new Map<string, RemoteSocket>();
    const subscription = this.#nc.subscribe(`rdv.x.${executorId}.in`, {
      callback: (error, msg) => {
        if (!error) this.#toExecutor(executorId, hub, remotes, msg);
      },
    });
    this.#owners.set(executorId, { hub, subscription, remotes });
  }

  /**
   * The executor's socket left this node. Remote sockets stay attached through the hub's
   * grace (the executor may come back here); the periodic check ends them afterwards.
   */
  executorOffline(_executorId: string): void {}

  #toExecutor(
    executorId: string,
    hub: ExecutorHub,
    remotes: Map<string, RemoteSocket>,
    msg: Msg,
  ): void {
    const reply = msg.reply ?? "";
    const match = REPLY.exec(reply);
    if (!match || match[1] !== executorId) return this.#drop("bad_reply_subject");
    this.#framesIn++;
    this.#bytesIn += msg.data.length;
    let remote = remotes.get(reply);
    if (msg.headers?.get(OP_HEADER) === "close") {
      remote?.closed(1000, "harness closed");
      return;
    }
    if (!remote) {
      if (remotes.size >= this.#options.maxRemoteSockets) return this.#drop("remote_socket_limit");
      const socket = new RemoteSocket(this.#outbox, reply, {
        // The harness is told only while this node still holds the executor: if it moved,
        // the harness's frames already reach the new node and its socket must stay open.
        allowClose: () => !this.#detached && hub.online,
      });
      remote = socket;
      remotes.set(reply, socket);
      socket.addEventListener("close", () => remotes.delete(reply));
      hub.attachHarness(socket as unknown as WebSocket, `harness via node ${match[2]}`);
    }
    remote.deliver(msg.data);
  }

  /**
   * Serves an open local harness socket for an executor held by another node: its frames go
   * to whichever node holds the executor, and that node's frames come back.
   */
  forwardHarness(
    socket: WebSocket,
    options: { executorId: string; label: string; holder: string },
  ): void {
    const { executorId, label } = options;
    let holderSeen = options.holder;
    const paced = new PacedSocket(socket, {
      label,
      highWaterBytes: this.#options.highWaterBytes,
      maxQueuedBytes: this.#options.maxQueuedBytes,
      overflow: "close",
      log: this.#options.log,
    });
    const inbox = `rdv.x.${executorId}.h.${this.#store.nodeId}.${crypto.randomUUID()}`;
    const target = `rdv.x.${executorId}.in`;
    let offlineSince: number | undefined;
    const subscription = this.#nc.subscribe(inbox, {
      callback: (error, msg) => {
        if (error) return;
        this.#framesIn++;
        this.#bytesIn += msg.data.length;
        if (msg.headers?.get(OP_HEADER) === "close") {
          const code = Number(msg.headers.get("rdv-code"));
          paced.close(
            Number.isInteger(code) && code >= 1000 && code < 5000 ? code : 1011,
            msg.headers.get("rdv-reason") ?? "",
          );
          return;
        }
        if (!paced.send(new Uint8Array(msg.data))) this.#drop("harness_not_draining");
      },
    });
    const check = async () => {
      const holder = await this.#store.locate(executorId);
      if (holder !== undefined && holder !== holderSeen) {
        // The executor moved: the new node resets the streams it cannot know (their harness
        // was here, the ownership on the old node). Closing makes the client reconnect through
        // the registry and resume its session at once rather than after the relay's timeout.
        this.#options.log(
          `rendezvous: executor ${executorId} moved from node ${holderSeen} to ${holder}; closing ${label} so its client resumes`,
        );
        holderSeen = holder;
        paced.close(1012, "executor moved to another node; reconnect");
        return;
      }
      if (holder !== undefined) {
        offlineSince = undefined;
        return;
      }
      offlineSince ??= performance.now();
      if (performance.now() - offlineSince > this.#options.graceMs) {
        this.#options.log(
          `rendezvous: executor ${executorId} is offline on every node; closing ${label}`,
        );
        paced.close(1011, "executor offline");
      }
    };
    const entry = {
      close: () => paced.close(1001, "rendezvous shutting down"),
      paced,
    };
    this.#forwarded.add(entry);
    this.#checks.add(check);
    socket.addEventListener("message", (event) => {
      if (typeof event.data === "string") return this.#drop("text_message");
      const bytes = new Uint8Array(event.data as ArrayBuffer);
      if (bytes.length > this.#outbox.maxPayload - PAYLOAD_HEADROOM) {
        return this.#drop("frame_over_nats_max_payload");
      }
      // Relay streams resend what is dropped here; a socket flooding a slow NATS link must not
      // grow this node's memory.
      if (this.#outbox.bufferedAmount > this.#options.maxQueuedBytes) {
        return this.#drop("nats_backlog");
      }
      if (!this.#outbox.publish(target, bytes, { reply: inbox })) this.#drop("nats_closed");
    });
    socket.addEventListener("close", () => {
      this.#forwarded.delete(entry);
      this.#checks.delete(check);
      subscription.unsubscribe();
      if (this.#detached) return;
      const h = headers();
      h.set(OP_HEADER, "close");
      this.#outbox.publish(target, new Uint8Array(0), { reply: inbox, headers: h });
    });
    this.#options.debug(`rendezvous: ${label} forwarded to executor ${executorId} over NATS`);
  }

  async #check(): Promise<void> {
    if (this.#checking || this.#detached) return;
    this.#checking = true;
    try {
      await Promise.allSettled([...this.#checks].map((check) => check()));
      const nodes = new Map<string, boolean>();
      for (const [executorId, owner] of this.#owners) {
        for (const [reply, remote] of owner.remotes) {
          const node = REPLY.exec(reply)![2];
          if (!nodes.has(node)) {
            nodes.set(
              node,
              await this.#store.nodeAlive(node).catch(() => true),
            );
          }
          if (!nodes.get(node)) remote.closed(1006, `node ${node} is gone`);
        }
        if (!owner.hub.online && owner.remotes.size === 0) {
          owner.subscription.unsubscribe();
          this.#owners.delete(executorId);
        }
      }
    } finally {
      this.#checking = false;
    }
  }

  /**
   * Stops forwarding without telling anyone (this node is going away: harness sockets on
   * other nodes keep going once their executor is on a live node).
   */
  detach(): void {
    if (this.#detached) return;
    this.#detached = true;
    clearInterval(this.#timer);
    for (const owner of this.#owners.values()) owner.subscription.unsubscribe();
    for (const entry of [...this.#forwarded]) entry.close();
    this.#owners.clear();
  }
}
