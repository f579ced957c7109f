/**
 * The output side of `bench --scale`'s process series, in its own process so draining does not
 * slow the bench's quiet connection: connects to an exec-server (one connection per 100
 * processes), starts COUNT `cat /dev/zero` processes, prints one JSON line `{"started": n,
 * "failed": n, "error": "..."}` once every `process/start` has answered, counts `process/output`
 * bytes from then on without decoding them, and on stdin EOF prints `{"mibPerSec": x}`,
 * terminates the processes and exits.
 *
 * @example
 * ```sh
 * deno run --allow-net scripts/_bench_scale_producer.ts ws://127.0.0.1:1234 100
 * ```
 * @module
 */
import { RpcClient } from "./_bench_rpc.ts";

const [url, countText] = Deno.args;
const count = Number(countText);
const perConnection = 100;
const clients: RpcClient[] = [];
let bytes = 0;
for (let i = 0; i < count; i += perConnection) {
  const client = await RpcClient.connect(url);
  await client.initialize("codex-exec-server-bench-scale");
  client.onRaw = (text) => {
    if (text.length > 1000 && text.slice(0, 60).includes('"process/output"')) {
      // The base64 chunk dominates the message: its length is a close enough byte count.
      bytes += (text.length - 100) * 0.75;
      return true;
    }
    return false;
  };
  clients.push(client);
}
const started: { processId: string; client: RpcClient }[] = [];
let failed = 0;
let error = "";
await Promise.all(Array.from({ length: count }, async (_, i) => {
  const processId = `scale-${i}`;
  try {
    const client = clients[Math.floor(i / perConnection)];
    await client.call("process/start", {
      processId,
      argv: ["cat", "/dev/zero"],
      cwd: new URL("file:///tmp").href,
      env: { PATH: "/usr/bin:/bin" },
      tty: false,
    });
    started.push({ processId, client });
  } catch (e) {
    failed++;
    error ||= (e as Error).message;
  }
}));
bytes = 0;
const t0 = performance.now();
console.log(JSON.stringify({ started: started.length, failed, error }));
for await (const _ of Deno.stdin.readable) {
  // Wait for EOF: the bench closes our stdin when its measurement window is over.
}
const seconds = (performance.now() - t0) / 1000;
console.log(JSON.stringify({ mibPerSec: bytes / 1048576 / seconds }));
await Promise.all(
  started.map(({ processId, client }) =>
    client.call("process/terminate", { processId }).catch(() => {})
  ),
);
await Promise.all(clients.map((c) => c.close()));
Deno.exit(0);
