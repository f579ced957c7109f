/**
 * Resolving a program the way `execvp(3)` will, so that a missing program is reported as a
 * spawn error instead of as text on the child's terminal.
 * @module
 */

/** glibc's `execvp` search path when the environment has no `PATH`. */
const DEFAULT_PATH = "/bin:/usr/bin";

/** Where to look. */
export interface FindProgramOptions {
  /** Directory that a relative path containing a slash is resolved against. */
  cwd: string;
  /** The child's `PATH`, or undefined for the `execvp` default. */
  path?: string;
}

/**
 * Finds `program` as `execvp` would (a name with a slash is taken as a path, otherwise each
 * `PATH` entry is tried). Returns the path found, or throws the OS error text `execvp` would
 * produce: "No such file or directory (os error 2)" or "Permission denied (os error 13)".
 *
 * @example
 * ```ts
 * findProgram("sh", { cwd: "/", path: "/usr/bin:/bin" }); // "/usr/bin/sh"
 * ```
 */
export function findProgram(program: string, options: FindProgramOptions): string {
  if (program === "") throw new Error("No such file or directory (os error 2)");
  const candidates = program.includes("/")
    ? [program.startsWith("/") ? program : `${options.cwd}/${program}`]
    : (options.path ?? DEFAULT_PATH).split(":").map((dir) => `${dir || "."}/${program}`);
  let denied = false;
  for (const candidate of candidates) {
    let info: Deno.FileInfo;
    try {
      info = Deno.statSync(candidate.startsWith("/") ? candidate : `${options.cwd}/${candidate}`);
    } catch {
      continue;
    }
    if (info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0) return candidate;
    denied = true;
  }
  throw new Error(
    denied ? "Permission denied (os error 13)" : "No such file or directory (os error 2)",
  );
}
