/**
 * Shared CLI plumbing: a usage error type, flag parsing with suggestions, integer flags.
 * @module
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { didYouMean } from "./_suggest.ts";

/** A mistake in the command line; printed with a hint and exit code 2. */
export class UsageError extends Error {
  readonly code = "usage";
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/**
 * A failure the user can fix that is not a command-line mistake (a port in use, a missing
 * local folder): printed as one `error:` line (plus its hint lines), exit 1, no usage hint.
 *
 * @example
 * ```ts
 * import { CliError } from "./_args.ts";
 * throw new CliError("cannot listen on 127.0.0.1:4000: address already in use");
 * ```
 */
export class CliError extends Error {
  readonly code = "cli";
  constructor(message: string) {
    super(message);
    this.name = "CliError";
  }
}

/**
 * Runs `listen`, turning "address in use" and "permission denied" into a {@link CliError} that
 * names the address and what to do.
 *
 * @example
 * ```ts
 * import { listenOrExplain } from "./_args.ts";
 * const listener = await listenOrExplain("127.0.0.1:4000", () => Promise.resolve(Deno.listen({ port: 4000 })));
 * ```
 */
export async function listenOrExplain<T>(where: string, listen: () => Promise<T>): Promise<T> {
  try {
    return await listen();
  } catch (err) {
    if (err instanceof Deno.errors.AddrInUse) {
      throw new CliError(
        `cannot listen on ${where}: the address is already in use\n  Stop the program that ` +
          "holds it, or pick another port with --listen (port 0 picks a free one).",
      );
    }
    if (
      err instanceof Deno.errors.PermissionDenied || err instanceof Deno.errors.AddrNotAvailable
    ) {
      throw new CliError(
        `cannot listen on ${where}: ${(err as Error).message}\n  Ports below 1024 need ` +
          "privileges, and the IP must be one of this machine's addresses.",
      );
    }
    throw err;
  }
}

/**
 * Parses a non-negative integer flag value.
 *
 * @example
 * ```ts
 * parseIntegerFlag("--concurrent-requests", "4", { min: 1 }); // 4
 * ```
 */
export function parseIntegerFlag(name: string, value: string, bounds: { min: number }): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < bounds.min) {
    throw new UsageError(`${name} expects an integer >= ${bounds.min}, got \`${value}\``);
  }
  return n;
}

/**
 * Reads an optional integer from the environment (used for test-only timing overrides).
 *
 * @example
 * ```ts
 * envInteger("CODEX_EXEC_SERVER_SESSION_TTL_MS"); // undefined unless set
 * ```
 */
export function envInteger(name: string): number | undefined {
  const raw = Deno.env.get(name);
  if (raw === undefined || raw === "") return undefined;
  return parseIntegerFlag(name, raw, { min: 0 });
}

/** What {@link parseFlags} takes: `node:util` parseArgs' config plus a hint for stray options. */
export type ParseFlagsConfig<T extends ParseArgsConfig> = T & {
  /** Appended to an unknown-option error (e.g. exec's "put the program after `--`"). */
  strayOptionHint?: (option: string) => string | undefined;
};

/**
 * `node:util` parseArgs, with its errors turned into {@link UsageError}s that name the flag and
 * suggest the closest real one (`--urll` → `--url`).
 *
 * @example
 * ```ts
 * import { parseFlags } from "./_args.ts";
 * const { values } = parseFlags({ args: ["--url", "ws://h:1"], options: { url: { type: "string" } } });
 * ```
 */
export function parseFlags<T extends ParseArgsConfig>(
  config: ParseFlagsConfig<T>,
): ReturnType<typeof parseArgs<T>> {
  const { strayOptionHint, ...rest } = config;
  try {
    return parseArgs(rest as unknown as T);
  } catch (err) {
    const code = (err as { code?: string }).code ?? "";
    if (!code.startsWith("ERR_PARSE_ARGS")) throw err;
    const message = (err as Error).message;
    const unknown = /Unknown option '([^']+)'/.exec(message)?.[1];
    if (unknown !== undefined) {
      const names = Object.entries(config.options ?? {}).flatMap(([name, spec]) => [
        `--${name}`,
        ...((spec as { short?: string }).short ? [`-${(spec as { short: string }).short}`] : []),
      ]);
      const hint = strayOptionHint?.(unknown);
      throw new UsageError(
        `unknown option \`${unknown}\`${didYouMean(unknown, names)}` + (hint ? `; ${hint}` : ""),
      );
    }
    const missing = /Option '([^']+?)(?: <value>)?' argument missing/.exec(message)?.[1];
    if (missing !== undefined) {
      throw new UsageError(`option \`${missing.replace(/^-\w, /, "")}\` needs a value`);
    }
    throw new UsageError(message.replace(/\. To specify a positional[\s\S]*$/, ""));
  }
}
