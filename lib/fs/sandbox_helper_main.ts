/**
 * Entry of the sandboxed-fs helper when the server runs from source (`deno run`): a file of its
 * own, outside the server's module graph, so that nothing else ever starts serving stdin.
 * Compiled and bundled servers run the same loop through `codex-exec-server __fs-helper`.
 * @module
 */
import { serveHelper } from "./sandbox_helper.ts";

await serveHelper();
