/**
 * The flooding side of the "quiet connection while another floods" line, in its own process:
 * connects to an exec-server, starts `cat /dev/zero`, drains `process/output` as fast as it can
 * (counting bytes without decoding), prints `flooding` once data flows, and on stdin EOF
 * terminates the process and prints how much it moved.
 *
 * @example
 * ```sh
 * deno run --allow-net scripts/_bench_flood.ts ws://127.0.0.1:1234
 * ```
 * @module
 */
import { RpcClient } from "./_bench_rpc.ts";

const url = Deno.args[0];
const client = await RpcClient.connect(url);
await client.initialize("codex-exec-server-bench-flood");
let bytes = 0;
let announced = false;
const { promise: closed, resolve: onClosed } = Promise.withResolvers<void>();
client.onRaw = (text) => {
  if (text.length > 1000 && text.slice(0, 60).includes('"process/output"')) {
    // The base64 chunk dominates the message: its length is a close enough byte count.
    bytes += (text.length - 100) * 0.75;
    if (!announced) {
      announced = true;
      console.log("flooding");
    }
    return true;
  }
  if (text.includes('"process/closed"')) onClosed();
  return false;
};
const t0 = performance.now();
await client.call("process/start", {
  processId: "flood",
  argv: ["cat", "/dev/zero"],
  cwd: new URL("file:///tmp").href,
  env: { PATH: "/usr/bin:/bin" },
  tty: false,
});
for await (const _ of Deno.stdin.readable) {
  // Wait for EOF: the bench closes our stdin when the quiet measurement is done.
}
const seconds = (performance.now() - t0) / 1000;
await client.call("process/terminate", { processId: "flood" });
await Promise.race([closed, new Promise((r) => setTimeout(r, 5_000))]);
console.log(`${(bytes / 1048576 / seconds).toFixed(0)} MiB/s`);
await client.close();
Deno.exit(0);
