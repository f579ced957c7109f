/**
 * The hidden subcommand a compiled or bundled server runs itself with to get a sandboxed fs
 * helper (see `sandboxed.ts`). Its own module so the CLI can recognise it without loading the
 * fs and sandbox code at every start.
 * @module
 */

/**
 * argv[0] of the sandboxed fs helper process.
 *
 * @example
 * ```ts
 * if (Deno.args[0] === FS_HELPER_SUBCOMMAND) console.log("running as the fs helper");
 * ```
 */
export const FS_HELPER_SUBCOMMAND = "__fs-helper";
