/**
 * Test infrastructure: an in-memory network for relay links. Pairs of link ends deliver
 * frames after a delay and can drop, duplicate and reorder them (seeded, reproducible); a
 * tiny rendezvous routes frames between one executor link and many harness links by
 * `stream_id`, like the real one. This simulates the network, not our relay code.
 * @module
 */
import { decodeFrame, type RelayLink, type RelayLinkHandlers } from "../../lib/relay/mod.ts";

/** How a simulated link misbehaves. */
export interface LinkConditions {
  /** Probability a frame is lost. */
  loss?: number;
  /** Probability a frame is delivered twice. */
  duplicate?: number;
  /** Probability a frame is held back (so later frames overtake it). */
  reorder?: number;
  /** Base one-way delay. */
  delayMs?: number;
  /** Extra random delay for reordered frames. */
  reorderDelayMs?: number;
  /** PRNG seed. */
  seed?: number;
}

/** Counters of one simulated link end's outbound traffic. */
export interface LinkCounters {
  sent: number;
  lost: number;
  duplicated: number;
  delivered: number;
}

/** mulberry32: small, seedable, good enough to pick losses. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One end of a simulated link. */
export class SimLinkEnd implements RelayLink {
  readonly label: string;
  peer!: SimLinkEnd;
  readonly counters: LinkCounters = { sent: 0, lost: 0, duplicated: 0, delivered: 0 };
  #handlers: RelayLinkHandlers | undefined;
  #early: (Uint8Array | string)[] = [];
  #closed = false;
  #closeReason = "";
  #inflightBytes = 0;
  #timers = new Set<ReturnType<typeof setTimeout>>();
  #conditions: Required<LinkConditions>;
  #random: () => number;
  #dropRules: { match: (frame: Uint8Array) => boolean; times: number }[] = [];

  constructor(label: string, conditions: Required<LinkConditions>, random: () => number) {
    this.label = label;
    this.#conditions = { ...conditions };
    this.#random = random;
  }

  get bufferedAmount(): number {
    return this.#inflightBytes;
  }

  /** From now on, both directions of this pair lose every frame (a silently dead path). */
  blackhole(): void {
    this.#conditions.loss = 1;
    this.peer.#conditions.loss = 1;
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  /**
   * Loses the next `times` outbound frames `match` accepts (on top of random loss), to take
   * out exactly the frames a test is about.
   */
  dropMatching(match: (frame: Uint8Array) => boolean, times = 1): void {
    this.#dropRules.push({ match, times });
  }

  send(data: Uint8Array | string): void {
    if (this.#closed) return;
    this.counters.sent++;
    const { loss, duplicate, reorder, delayMs, reorderDelayMs } = this.#conditions;
    const rule = typeof data === "string"
      ? undefined
      : this.#dropRules.find((r) => r.times > 0 && r.match(data));
    if (rule) {
      rule.times--;
      this.counters.lost++;
      return;
    }
    if (this.#random() < loss) {
      this.counters.lost++;
      return;
    }
    const copies = this.#random() < duplicate ? 2 : 1;
    if (copies === 2) this.counters.duplicated++;
    // Copy: the sender may reuse its buffer, a real socket would have serialized it.
    const frame = typeof data === "string" ? data : data.slice();
    const size = typeof frame === "string" ? frame.length : frame.length;
    for (let i = 0; i < copies; i++) {
      const extra = this.#random() < reorder ? this.#random() * reorderDelayMs : 0;
      this.#inflightBytes += size;
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        this.#inflightBytes -= size;
        if (this.#closed) return;
        this.counters.delivered++;
        this.peer.receive(frame);
      }, delayMs + extra);
      this.#timers.add(timer);
    }
  }

  /** Delivers a message from the peer. */
  receive(frame: Uint8Array | string): void {
    if (this.#closed) return;
    if (this.#handlers) this.#handlers.onMessage(frame);
    else this.#early.push(frame);
  }

  attach(handlers: RelayLinkHandlers): void {
    this.#handlers = handlers;
    for (const frame of this.#early.splice(0)) handlers.onMessage(frame);
    if (this.#closed) handlers.onClose(this.#closeReason);
  }

  close(): void {
    this.#shut("closed locally");
    this.peer.#shut("closed by peer");
  }

  #shut(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closeReason = reason;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    this.#inflightBytes = 0;
    this.#handlers?.onClose(reason);
  }
}

/** Two connected link ends with the same conditions in both directions. */
export function simLinkPair(
  label: string,
  conditions: LinkConditions = {},
): [SimLinkEnd, SimLinkEnd] {
  const full: Required<LinkConditions> = {
    loss: 0,
    duplicate: 0,
    reorder: 0,
    delayMs: 1,
    reorderDelayMs: 10,
    seed: 1,
    ...conditions,
  };
  const random = prng(full.seed);
  const a = new SimLinkEnd(`${label} (a)`, full, random);
  const b = new SimLinkEnd(`${label} (b)`, full, random);
  a.peer = b;
  b.peer = a;
  return [a, b];
}

/**
 * An in-memory rendezvous: one executor link, many harness links, frames routed by
 * `stream_id` (a harness owns the ids it sent first). Frames for a missing executor or an
 * unknown stream are dropped.
 */
export class SimRendezvous {
  #executor: SimLinkEnd | undefined;
  #owners = new Map<string, SimLinkEnd>();
  #harnesses = new Set<SimLinkEnd>();
  #executorConditions: LinkConditions;
  #harnessConditions: LinkConditions;
  #seed: number;

  constructor(
    options: { executor?: LinkConditions; harness?: LinkConditions; seed?: number } = {},
  ) {
    this.#executorConditions = options.executor ?? {};
    this.#harnessConditions = options.harness ?? {};
    this.#seed = options.seed ?? 1;
  }

  /** A new executor link (replacing any previous one, as a reconnect would). */
  connectExecutor(): SimLinkEnd {
    this.#executor?.close();
    const [executorEnd, routerEnd] = simLinkPair("sim executor link", {
      ...this.#executorConditions,
      seed: this.#seed++,
    });
    this.#executor = routerEnd;
    routerEnd.attach({
      onMessage: (data) => {
        if (typeof data === "string") return;
        let id: string;
        try {
          id = decodeFrame(data).streamId;
        } catch {
          return;
        }
        this.#owners.get(id)?.send(data);
      },
      onClose: () => {
        if (this.#executor === routerEnd) this.#executor = undefined;
      },
    });
    return executorEnd;
  }

  /** A new harness link. */
  connectHarness(): SimLinkEnd {
    const [harnessEnd, routerEnd] = simLinkPair("sim harness link", {
      ...this.#harnessConditions,
      seed: this.#seed++,
    });
    this.#harnesses.add(routerEnd);
    routerEnd.attach({
      onMessage: (data) => {
        if (typeof data !== "string") {
          try {
            const id = decodeFrame(data).streamId;
            if (!this.#owners.has(id)) this.#owners.set(id, routerEnd);
          } catch {
            // Garbage is forwarded as is: the executor must cope.
          }
        }
        this.#executor?.send(data as Uint8Array);
      },
      onClose: () => {
        this.#harnesses.delete(routerEnd);
        for (const [id, owner] of this.#owners) if (owner === routerEnd) this.#owners.delete(id);
      },
    });
    return harnessEnd;
  }

  /** Cuts the executor link (both ends see it close). */
  cutExecutor(): void {
    this.#executor?.close();
    this.#executor = undefined;
  }

  /** Closes every link. */
  close(): void {
    this.cutExecutor();
    for (const end of [...this.#harnesses]) end.close();
  }
}
