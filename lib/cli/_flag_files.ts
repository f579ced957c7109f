/**
 * Flag values every listener or client reads the same way: a token file (`--token-file`,
 * `--ws-token-file`) and a `--listen URL` of the form `SCHEME://IP:PORT`.
 * @module
 */
import { UsageError } from "./_args.ts";

/**
 * Reads a token file named by flag `flag`: its trimmed contents, which must not be empty.
 *
 * @throws {UsageError} the file cannot be read, or holds only whitespace.
 * @example
 * ```ts
 * import { readTokenFile } from "./_flag_files.ts";
 * const token = await readTokenFile("--token-file", "/run/secrets/exec-server");
 * ```
 */
export async function readTokenFile(flag: string, path: string): Promise<string> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    throw new UsageError(`cannot read ${flag} ${path}: ${(err as Error).message}`);
  }
  const token = text.trim();
  if (token === "") throw new UsageError(`${flag} ${path} is empty`);
  return token;
}

/**
 * Where to listen, from `--listen SCHEME://IP:PORT` (port 0 or none = any free port).
 *
 * @throws {UsageError} not a URL of that scheme, or one with a path.
 * @example
 * ```ts
 * import { parseListenUrl } from "./_flag_files.ts";
 * parseListenUrl("http://127.0.0.1:0", { scheme: "http", expects: "http://IP:PORT" });
 * // { hostname: "127.0.0.1", port: 0 }
 * ```
 */
export function parseListenUrl(
  value: string,
  options: { scheme: "ws" | "http"; expects: string },
): { hostname: string; port: number } {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    // reported below
  }
  if (
    !url || url.protocol !== `${options.scheme}:` || url.hostname === "" ||
    (url.pathname !== "/" && url.pathname)
  ) {
    throw new UsageError(`--listen expects ${options.expects}, got \`${value}\``);
  }
  return { hostname: url.hostname.replace(/^\[|\]$/g, ""), port: Number(url.port || "0") };
}
