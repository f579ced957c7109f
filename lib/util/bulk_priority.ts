/**
 * Interactive requests before bulk output, on the one JS thread they share. Output pumps call
 * {@link bulkTurn} between pieces; once the pumps together have run for a slice, the next pump
 * waits in line for a turn of the socket reactor, so that requests (and write completions) of
 * every connection are seen at least once per slice, however many pumps flood.
 *
 * Why a reactor turn and not `setImmediate`: Deno's event loop polls sockets only when it runs
 * out of ready work or every so many loop turns. Pumps that hand off with `setImmediate` always
 * leave ready work, so sockets were polled about every 60 turns: with 10 such loops of 0.1 ms a
 * loopback round trip took 93-160 ms (and 100 flooding `cat`s made a quiet connection's
 * requests wait 0.2-2 s). A timer also makes the loop poll sockets, but costs 2 ms (the timer
 * granularity). A byte sent to ourselves through a loopback TCP connection can only be read
 * after a socket poll: ~30 µs per turn, and a round trip to another connection stays ~0.14 ms
 * while 10 loops keep the thread 99% busy.
 * @module
 */

/** How long after the last request a pump keeps deferring to interactive traffic. */
const INTERACTIVE_WINDOW_MS = 100;
/**
 * Slice lengths of the pumps together, with and without recent interactive traffic. A quiet
 * request waits about one slice (its median under a flood was slice + idle): 0.1 ms let a flood
 * run at 400-560 MiB/s with the quiet p99 4-7x idle, 0.02 ms at 240-270 MiB/s with it ~1.1x.
 */
const SLICE_MS = { interactive: 0.02, alone: 2 } as const;

// The two latest requests from different sources, so a pump can ask for the latest one that did
// not come from the session its output goes to (a client reading its own flood by requests must
// not slow that flood).
let latestSource: object | undefined;
let latestAt = -Infinity;
let previousAt = -Infinity;
let sliceStart = 0;
/** Pumps waiting for a slice, in arrival order. */
const waiting: (() => void)[] = [];
let turning = false;
let pair: Promise<{ send: Deno.Conn; receive: Deno.Conn } | null> | null = null;
const one = new Uint8Array(1);
const sink = new Uint8Array(64);

/**
 * Notes an interactive request (call once per request answered) from `source` (its session),
 * the identity a pump names as its `owner` for output going back to the same peer.
 *
 * @example
 * ```ts
 * const session = {};
 * markInteractive(session);
 * ```
 */
export function markInteractive(source?: object): void {
  const now = performance.now();
  if (source === undefined || source !== latestSource) previousAt = latestAt;
  latestSource = source;
  latestAt = now;
}

function sliceMs(owner: object | undefined): number {
  const lastOtherAt = owner !== undefined && owner === latestSource ? previousAt : latestAt;
  return performance.now() - lastOtherAt < INTERACTIVE_WINDOW_MS
    ? SLICE_MS.interactive
    : SLICE_MS.alone;
}

/**
 * Undefined while the current slice lasts (go on); else this pump's place in line: pumps wait
 * in arrival order, and each reactor turn wakes only the one at the head, which owns the next
 * slice (go on once it resolves). Waking every waiting pump per turn cost each of them a
 * promise hop for about one piece of output between them: 1,000 floods moved 42 MiB/s.
 *
 * @example
 * ```ts
 * const pause = bulkTurn();
 * if (pause) await pause;
 * ```
 */
export function bulkTurn(owner?: object): Promise<void> | undefined {
  if (performance.now() - sliceStart < sliceMs(owner)) return undefined;
  const { promise, resolve } = Promise.withResolvers<void>();
  waiting.push(resolve);
  if (!turning) void wakeInTurn();
  return promise;
}

async function wakeInTurn(): Promise<void> {
  turning = true;
  try {
    while (waiting.length > 0) {
      await reactorTurn();
      sliceStart = performance.now();
      waiting.shift()!();
    }
  } finally {
    turning = false;
  }
}

/**
 * One turn of the socket reactor for a writer that would otherwise chain `setImmediate`s (which
 * keep the loop from polling sockets, see above).
 *
 * @example
 * ```ts
 * await reactorTurn();
 * ```
 */
export async function reactorTurn(): Promise<void> {
  const conns = await (pair ??= loopbackPair());
  if (!conns) {
    await new Promise((resolve) => setTimeout(resolve, 0));
    return;
  }
  try {
    await conns.send.write(one);
    await conns.receive.read(sink);
  } catch {
    pair = null; // closed under us (the process is ending): a timer the next time
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
}

/**
 * A TCP connection to ourselves on 127.0.0.1, kept for the life of the process (two descriptors;
 * no pending operation between turns, so it never keeps the process alive). Null when loopback
 * is not available (no permission): turns then wait for a timer.
 */
async function loopbackPair(): Promise<{ send: Deno.Conn; receive: Deno.Conn } | null> {
  let listener: Deno.Listener | undefined;
  try {
    listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const { port } = listener.addr as Deno.NetAddr;
    const send = await Deno.connect({ hostname: "127.0.0.1", port });
    // Nagle would hold a byte back until the previous one is acknowledged (delayed ACK: 40 ms).
    send.setNoDelay(true);
    const ours = (send.localAddr as Deno.NetAddr).port;
    // Another local process may connect first: only our own connection is kept.
    for (;;) {
      const receive = await listener.accept();
      if ((receive.remoteAddr as Deno.NetAddr).port === ours) return { send, receive };
      receive.close();
    }
  } catch {
    return null;
  } finally {
    listener?.close();
  }
}
