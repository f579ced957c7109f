/**
 * `fs/watchMissing` (capability `fsWatchMissing`): one one-shot watch per connection that sends
 * `fs/missingChanged {watchId}` when a missing path (or a missing ancestor of it) appears, or when
 * the `present` path is modified, replaced or removed. Codex watches `.git` up the tree and
 * `.agents/skills` this way instead of polling. Kernel watches (`Deno.watchFs` on the nearest
 * existing ancestors) where the kernel gives one, a 1 s stat poll where it does not; either way
 * bounded by the number of paths, and closed when the watch is replaced, fires, or the
 * connection ends.
 * @module
 */
import { invalidParams } from "../jsonrpc/errors.ts";
import { log } from "../util/log.ts";

/**
 * Most paths one watch may name.
 *
 * @example
 * ```ts
 * declare const missing: string[];
 * if (missing.length > MAX_WATCH_PATHS) console.log("split the watch");
 * ```
 */
export const MAX_WATCH_PATHS = 1024;
const POLL_INTERVAL_MS = 1000;
/**
 * Test-only: `1` makes every watch poll, as it does when the kernel has no watches left.
 *
 * @example
 * ```ts
 * Deno.env.set(FORCE_POLL_ENV, "1");
 * ```
 */
export const FORCE_POLL_ENV = "CODEX_EXEC_SERVER_WATCH_POLL";

interface Signature {
  ino: number | null;
  size: number;
  mtime: number | null;
  ctime: number | null;
  mode: number | null;
}

async function signature(path: string): Promise<Signature | null> {
  try {
    const info = await Deno.lstat(path);
    // A directory's times change with its entries; upstream does not count that as a change of
    // the directory (only its removal, replacement or a mode change).
    const contents = !info.isDirectory;
    return {
      ino: info.ino,
      size: contents ? info.size : 0,
      mtime: contents ? info.mtime?.getTime() ?? null : null,
      ctime: contents ? info.ctime?.getTime() ?? null : null,
      mode: info.mode,
    };
  } catch {
    return null;
  }
}

function sameSignature(a: Signature | null, b: Signature | null): boolean {
  if (a === null || b === null) return a === b;
  return a.ino === b.ino && a.size === b.size && a.mtime === b.mtime && a.ctime === b.ctime &&
    a.mode === b.mode;
}

async function exists(path: string): Promise<boolean> {
  return (await signature(path)) !== null;
}

function parentOf(path: string): string {
  const cut = path.replace(/\/+$/, "").lastIndexOf("/");
  return cut <= 0 ? "/" : path.slice(0, cut);
}

/** A missing path and the first component of it that does not exist yet. */
interface Gap {
  /** The nearest existing ancestor: the directory watched. */
  dir: string;
  /** `dir` plus the next component: its appearance fires the watch. */
  next: string;
}

async function gapOf(path: string): Promise<Gap | null> {
  if (await exists(path)) return null;
  let next = path;
  let dir = parentOf(path);
  while (dir !== "/" && !(await exists(dir))) {
    next = dir;
    dir = parentOf(dir);
  }
  return { dir, next };
}

/** What to watch, resolved from the request. */
export interface WatchRequest {
  watchId: number;
  /** Absolute paths expected to be missing. */
  missing: string[];
  /** An absolute path expected to exist, or null. */
  present: string | null;
}

class ActiveWatch {
  #watcher: Deno.FsWatcher | null = null;
  #timer: ReturnType<typeof setInterval> | undefined;
  #done = false;

  constructor(
    readonly id: number,
    readonly gaps: Gap[],
    readonly present: string | null,
    readonly presentSignature: Signature | null,
    readonly fire: (id: number) => void,
  ) {}

  start(): void {
    const dirs = new Set(this.gaps.map((gap) => gap.dir));
    if (this.present !== null) dirs.add(parentOf(this.present));
    try {
      if (Deno.env.get(FORCE_POLL_ENV) === "1") throw new Error(`${FORCE_POLL_ENV}=1`);
      this.#watcher = Deno.watchFs([...dirs], { recursive: false });
    } catch (err) {
      // Out of inotify instances or watches: poll instead of failing the request.
      log.debug(`fs/watchMissing: kernel watch unavailable (${String(err)}); polling`);
      this.#timer = setInterval(() => this.#check(), POLL_INTERVAL_MS);
      this.#check();
      return;
    }
    this.#pump(this.#watcher);
    // Something may have changed between the probe and the watch being in place.
    this.#check();
  }

  async #pump(watcher: Deno.FsWatcher): Promise<void> {
    try {
      for await (const event of watcher) {
        if (this.#done) break;
        if (this.#relevant(event.paths)) return this.#trigger();
        await this.#check();
      }
    } catch (err) {
      if (!this.#done) log.debug(`fs/watchMissing: watcher ended: ${String(err)}`);
    }
  }

  #relevant(paths: string[]): boolean {
    return paths.some((path) =>
      path === this.present || this.gaps.some((gap) => gap.next === path)
    );
  }

  async #check(): Promise<void> {
    if (this.#done) return;
    for (const gap of this.gaps) {
      if (await exists(gap.next)) return this.#trigger();
    }
    if (
      this.present !== null && !sameSignature(await signature(this.present), this.presentSignature)
    ) {
      return this.#trigger();
    }
  }

  #trigger(): void {
    if (this.#done) return;
    this.stop();
    this.fire(this.id);
  }

  stop(): void {
    this.#done = true;
    clearInterval(this.#timer);
    try {
      this.#watcher?.close();
    } catch {
      // already closed
    }
    this.#watcher = null;
  }
}

/**
 * One connection's missing-path watch. Dispose it when the connection ends.
 *
 * @example
 * ```ts
 * declare function notify(method: string, params: unknown): void;
 * using watches = new MissingWatches((watchId) => notify("fs/missingChanged", { watchId }));
 * await watches.watch({ watchId: 1, missing: ["/repo/.git"], present: null }); // true
 * ```
 */
export class MissingWatches implements Disposable {
  #highest = -1;
  #current: ActiveWatch | null = null;
  #notify: (watchId: number) => void;
  #disposed = false;

  constructor(notify: (watchId: number) => void) {
    this.#notify = notify;
  }

  /**
   * Replaces the current watch when `watchId` is higher than every id seen; resolves whether a
   * watch is now running (false: an id not above the current one, nothing missing, or `present`
   * already gone, so the caller should look again itself).
   */
  async watch(request: WatchRequest): Promise<boolean> {
    if (request.missing.length + (request.present === null ? 0 : 1) > MAX_WATCH_PATHS) {
      throw invalidParams(`fs/watchMissing accepts at most ${MAX_WATCH_PATHS} paths`);
    }
    if (request.watchId <= this.#highest) return false;
    this.#highest = request.watchId;
    this.#current?.stop();
    this.#current = null;
    const gaps: Gap[] = [];
    for (const path of new Set(request.missing)) {
      const gap = await gapOf(path);
      if (gap) gaps.push(gap);
    }
    const presentSignature = request.present === null ? null : await signature(request.present);
    // A newer request arrived while this one was probing: it owns the watch now.
    if (this.#disposed || this.#highest !== request.watchId) return false;
    if (gaps.length === 0 || (request.present !== null && presentSignature === null)) return false;
    const active = new ActiveWatch(
      request.watchId,
      gaps,
      request.present,
      presentSignature,
      (id) => {
        if (this.#current === active) this.#current = null;
        this.#notify(id);
      },
    );
    this.#current = active;
    active.start();
    return true;
  }

  /** Stops the current watch. */
  [Symbol.dispose](): void {
    this.#disposed = true;
    this.#current?.stop();
    this.#current = null;
  }
}
