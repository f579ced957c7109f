/**
 * Empty directories created as mountpoints for masks (a protected name such as `.codex` that does
 * not exist yet inside a writable root must be covered by a read-only mount, and a mount needs a
 * directory to sit on). They are counted across concurrent sandboxes and removed when the last
 * one using them exits: removing a mountpoint that another sandbox still covers would detach its
 * mask and let that command create the name after all.
 * @module
 */

/** The mountpoints one launch holds. */
export interface TargetLease {
  /** Gives the mountpoints back; the last holder removes the ones we created. Idempotent. */
  release(): void;
}

/**
 * Counts holders of synthetic mountpoints.
 *
 * @example
 * ```ts
 * const targets = new SyntheticTargets();
 * const lease = targets.acquire(["/work/.codex"]);
 * lease.release(); // removes /work/.codex if it is still the empty directory we made
 * ```
 */
export class SyntheticTargets {
  #holders = new Map<string, { count: number; created: boolean }>();

  /** Creates the missing directories among `paths` and counts this launch as a holder. */
  acquire(paths: string[]): TargetLease {
    for (const path of paths) {
      let entry = this.#holders.get(path);
      if (!entry) {
        let created = false;
        try {
          Deno.mkdirSync(path, { mode: 0o555 });
          created = true;
        } catch {
          // It appeared meanwhile (then the mask hides whatever it is), or the parent is gone
          // (then bwrap fails to start and the caller reports it).
        }
        entry = { count: 0, created };
        this.#holders.set(path, entry);
      }
      entry.count++;
    }
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        for (const path of paths) this.#drop(path);
      },
    };
  }

  /** Removes every directory we created, whoever holds it (the server is exiting). */
  releaseAll(): void {
    for (const [path, entry] of this.#holders) {
      this.#holders.delete(path);
      if (!entry.created) continue;
      try {
        Deno.removeSync(path);
      } catch {
        // not empty or already gone
      }
    }
  }

  #drop(path: string): void {
    const entry = this.#holders.get(path);
    if (!entry) return;
    if (--entry.count > 0) return;
    this.#holders.delete(path);
    if (!entry.created) return;
    try {
      // rmdir only: something put there meanwhile (from outside any sandbox) is kept.
      Deno.removeSync(path);
    } catch {
      // not empty or already gone
    }
  }
}

/**
 * The server-wide table.
 *
 * @example
 * ```ts
 * const lease = syntheticTargets.acquire([]);
 * lease.release();
 * ```
 */
export const syntheticTargets: SyntheticTargets = new SyntheticTargets();

// Sandboxes die with the server (bwrap --die-with-parent), so their mountpoints can go too.
globalThis.addEventListener("unload", () => syntheticTargets.releaseAll());
