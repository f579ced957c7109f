/**
 * A bounded walk of a capability tree that collects files by name: symlinked directories are
 * followed once (by real path, so a loop ends), hidden directories are entered (`.system` skills,
 * `.codex-plugin`), and the walk stops at a depth and directory budget.
 * @module
 */

/** Walk limits. */
export interface TreeLimits {
  /** Directory levels below the root (default 12). */
  maxDepth?: number;
  /** Directories visited in all (default 4000). */
  maxDirectories?: number;
}

/** What a walk found. */
export interface TreeScan {
  /** Directories visited, root first. */
  directories: string[];
  /** True when a limit cut the walk short. */
  truncated: boolean;
}

/**
 * Lists the directories under `root` (root included) within the limits.
 *
 * @example
 * ```ts
 * const { directories } = await scanTree("/root/.codex/skills");
 * ```
 */
export async function scanTree(root: string, limits: TreeLimits = {}): Promise<TreeScan> {
  const maxDepth = limits.maxDepth ?? 12;
  const maxDirectories = limits.maxDirectories ?? 4000;
  const directories: string[] = [];
  const seen = new Set<string>();
  let truncated = false;
  const queue: [string, number][] = [[root, 0]];
  while (queue.length > 0) {
    const [dir, depth] = queue.shift()!;
    let real: string;
    try {
      real = await Deno.realPath(dir);
    } catch {
      continue;
    }
    if (seen.has(real)) continue;
    if (directories.length >= maxDirectories) {
      truncated = true;
      break;
    }
    seen.add(real);
    directories.push(dir);
    if (depth >= maxDepth) {
      truncated = true;
      continue;
    }
    try {
      for await (const entry of Deno.readDir(dir)) {
        const path = `${dir === "/" ? "" : dir}/${entry.name}`;
        if (entry.isDirectory) queue.push([path, depth + 1]);
        else if (entry.isSymlink) {
          try {
            if ((await Deno.stat(path)).isDirectory) queue.push([path, depth + 1]);
          } catch {
            // dangling link
          }
        }
      }
    } catch {
      // unreadable directory: skip it
    }
  }
  return { directories, truncated };
}

/**
 * Orders paths component by component, as Rust's `Path` does (`a/b` before `a.b`).
 *
 * @example
 * ```ts
 * ["/s/b", "/s/a/x"].sort(comparePaths); // ["/s/a/x", "/s/b"]
 * ```
 */
export function comparePaths(a: string, b: string): number {
  const left = a.split("/");
  const right = b.split("/");
  for (let i = 0; i < Math.min(left.length, right.length); i++) {
    if (left[i] !== right[i]) return left[i] < right[i] ? -1 : 1;
  }
  return left.length - right.length;
}

/**
 * Whether a regular file (or a link to one) exists at `path`.
 *
 * @example
 * ```ts
 * if (await isFile("/p/.mcp.json")) console.log("has MCP config");
 * ```
 */
export async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}
