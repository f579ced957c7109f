/**
 * Checks every backend makes before starting a child, so that a bad cwd or a missing program is
 * a spawn error with the OS text (-32603), as upstream reports it, not a child that exits 1.
 * @module
 */
import { internalError } from "../jsonrpc/errors.ts";
import { osErrorMessage, osErrorText } from "../util/os_error.ts";

/**
 * False only when `path` certainly names nothing (a cheap, non-throwing check): a PATH walk then
 * skips the stat, whose miss builds an error object with its stack for every directory passed.
 */
export type PathProbe = (path: string) => boolean;

/** Looks `name` up in a colon-separated directory list; the first executable file wins. */
export function findExecutable(
  name: string,
  searchPath: string,
  probe?: PathProbe,
): string | undefined {
  for (const dir of searchPath.split(":")) {
    const path = `${dir}/${name}`;
    if (probe && !probe(path)) continue;
    try {
      const info = Deno.statSync(path);
      if (info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0) return path;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/**
 * Resolves the program the way `execvp` will, so that a missing or non-executable program is a
 * spawn error (-32603 with the OS text) instead of a child that exits 1.
 *
 * @example
 * ```ts
 * resolveProgram("sh", { cwd: "/", path: "/usr/bin:/bin" }); // "/usr/bin/sh"
 * ```
 */
export function resolveProgram(
  program: string,
  options: { cwd: string; path?: string; probe?: PathProbe },
): string {
  if (program.includes("/")) {
    const full = program.startsWith("/") ? program : `${options.cwd}/${program}`;
    let info: Deno.FileInfo;
    try {
      info = Deno.statSync(full);
    } catch (err) {
      throw internalError(osErrorMessage(err));
    }
    if (info.isDirectory || ((info.mode ?? 0o111) & 0o111) === 0) {
      throw internalError(osErrorText("EACCES"));
    }
    return full;
  }
  const found = program === "" ? undefined : findExecutable(
    program,
    options.path ?? Deno.env.get("PATH") ?? "/usr/local/bin:/usr/bin:/bin",
    options.probe,
  );
  if (!found) throw internalError(osErrorText("ENOENT"));
  return found;
}

/** Throws the OS error unless `cwd` is an existing directory. */
export function checkDirectory(cwd: string): void {
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(cwd);
  } catch (err) {
    throw internalError(osErrorMessage(err));
  }
  if (!info.isDirectory) throw internalError(osErrorText("ENOTDIR"));
}

/**
 * Refuses a NUL byte in an argument or in the environment, with upstream's -32603 texts. A C
 * string ends at its first NUL, so `posix_spawn` would run `echo a` for `["echo", "a\0b"]`: the
 * command that runs must be the command that was asked for (and that a policy may have checked).
 *
 * @example
 * ```ts
 * checkNoNulBytes({ argv: ["echo", "hi"], env: { HOME: "/root" } }); // passes
 * ```
 */
export function checkNoNulBytes(
  command: { argv: string[]; arg0?: string | null; env: Record<string, string> },
): void {
  if (command.argv.some((arg) => arg.includes("\0")) || command.arg0?.includes("\0")) {
    throw internalError("nul byte found in provided data");
  }
  for (const [key, value] of Object.entries(command.env)) {
    if (key.includes("\0") || value.includes("\0")) {
      throw internalError("data provided contains a nul byte");
    }
  }
}
