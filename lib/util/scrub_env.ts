/**
 * Takes a secret out of this process's environment for good: `Deno.env.delete` keeps it from
 * the children we spawn, but `/proc/<pid>/environ` shows the block the process was started with,
 * which any same-user process (e.g. a command the server runs) can read. That block lives in our
 * own memory, so it is overwritten through `/proc/self/mem`.
 * @module
 */

/**
 * Removes `name` from the environment and blanks its value in the initial environment block
 * (Linux; elsewhere only the `Deno.env` deletion happens). Returns whether the block was blanked.
 *
 * @example
 * ```ts
 * const token = Deno.env.get("CODEX_EXEC_SERVER_REMOTE_BEARER_TOKEN");
 * scrubEnvironmentVariable("CODEX_EXEC_SERVER_REMOTE_BEARER_TOKEN");
 * ```
 */
export function scrubEnvironmentVariable(name: string): boolean {
  try {
    Deno.env.delete(name);
  } catch {
    // no env permission: nothing we can do here
  }
  if (Deno.build.os !== "linux") return false;
  try {
    const stat = Deno.readTextFileSync("/proc/self/stat");
    // Fields after the parenthesised command name (which may contain spaces); env_start is
    // field 50, the 48th after ")".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).trim().split(" ");
    const envStart = Number(fields[50 - 3]);
    if (!Number.isSafeInteger(envStart) || envStart <= 0) return false;
    const block = Deno.readFileSync("/proc/self/environ");
    const prefix = new TextEncoder().encode(`${name}=`);
    let blanked = false;
    let entry = 0;
    const mem = Deno.openSync("/proc/self/mem", { read: true, write: true });
    try {
      while (entry < block.length) {
        let end = block.indexOf(0, entry);
        if (end < 0) end = block.length;
        const matches = end - entry >= prefix.length &&
          prefix.every((byte, i) => block[entry + i] === byte);
        if (matches) {
          const valueStart = entry + prefix.length;
          mem.seekSync(envStart + valueStart, Deno.SeekMode.Start);
          mem.writeSync(new Uint8Array(end - valueStart)); // zeros: an empty value
          blanked = true;
        }
        entry = end + 1;
      }
    } finally {
      mem.close();
    }
    return blanked;
  } catch {
    return false;
  }
}
