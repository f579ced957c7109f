/**
 * The executors of `bench --scale`'s rendezvous fan-out, in one process: COUNT seed-era
 * executors (`bench-x0` ... ), each its own registration and rendezvous websocket, all serving
 * their harness sessions from one server core. Starting COUNT `remote` processes instead would
 * spend minutes of the 2 cores on Deno start-ups and gigabytes on runtimes; what the series
 * scales is the rendezvous, which sees the same COUNT executor sockets either way. Prints
 * `ready` once every executor is attached; exits on stdin EOF.
 *
 * @example
 * ```sh
 * deno run -A scripts/_bench_scale_executors.ts http://127.0.0.1:8080 bench-token 100
 * ```
 * @module
 */
import { RemoteExecutor } from "../lib/remote/mod.ts";
import { BearerToken } from "../lib/registry/mod.ts";
import { createServerCore } from "../lib/server/mod.ts";

const [registry, token, countText] = Deno.args;
const count = Number(countText);
const core = createServerCore();
const bearer = new BearerToken(token);
const executors = Array.from({ length: count }, (_, i) =>
  new RemoteExecutor({
    registry,
    executorId: `bench-x${i}`,
    readToken: () => bearer,
    serve: (transport) => core.serve(transport),
  }));
const running = executors.map((e) =>
  e.run().catch((error) => console.error(`executor failed: ${error}`))
);
const deadline = Date.now() + 60_000;
while (executors.some((e) => e.stats.connections === 0)) {
  if (Date.now() > deadline) {
    const attached = executors.filter((e) => e.stats.connections > 0).length;
    console.log(`failed: ${attached} of ${count} executors attached within 60 s`);
    Deno.exit(1);
  }
  await new Promise((resolve) => setTimeout(resolve, 50));
}
console.log("ready");
for await (const _ of Deno.stdin.readable) {
  // Wait for EOF: the bench closes our stdin when the series is done.
}
executors.forEach((e) => e.stop());
await Promise.race([Promise.all(running), new Promise((r) => setTimeout(r, 2_000))]);
core.shutdown();
Deno.exit(0);
