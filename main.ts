/**
 * codex-exec-server: CLI entry. Parses the subcommand and dispatches to lib/cli.
 * @module
 */
import { runCli } from "./lib/cli/mod.ts";

if (import.meta.main) {
  Deno.exit(await runCli(Deno.args));
}
