/**
 * The flooding side of the "quiet connection while another floods" line, in its own process:
 * connects to an exec-server, starts `cat /dev/zero`, drains `process/output` as fast as it can
 * (counting bytes without decoding), prints `flooding` once data flows, and on stdin EOF
 * terminates the process and prints how much it moved.
 *
 * With `REGISTRY EXECUTOR_ID TOKEN` instead of a `ws://` URL it floods through one relay stream
 * of a rendezvous instead.
 *
 * @example
 * ```sh
 * deno run --allow-net scripts/_bench_flood.ts ws://127.0.0.1:1234
 * deno run -A scripts/_bench_flood.ts http://127.0.0.1:8080 bench-executor bench-token
 * ```
 * @module
 */
import { RpcClient, transportChannel } from "./_bench_rpc.ts";
import { registryConnector } from "../lib/client/mod.ts";

const [url, executorId, token] = Deno.args;
const client = url.startsWith("ws") ? await RpcClient.connect(url) : new RpcClient(
  transportChannel(await registryConnector({ registry: url, executorId, token }).open()),
);
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
