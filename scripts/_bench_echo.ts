/**
 * The bare Deno websocket server the bench's floors run on 127.0.0.1, doing nothing else. Prints
 * its `ws://` URL as the first stdout line, like the exec-servers it is compared with.
 *
 * - no argument (the RPC, memory and start-up floors): echoes every message back;
 * - `sink` (the upload floor): answers every JSON-RPC request at once with an empty result,
 *   decoding nothing and writing nothing, so it measures what the benchmark's client and the
 *   loopback carry, the most any server could reach.
 *
 * @example
 * ```sh
 * deno run --allow-net scripts/_bench_echo.ts
 * deno run --allow-net scripts/_bench_echo.ts sink
 * ```
 * @module
 */

// The benchmark's client writes the id first (`{"id":7,"method":...`): a sink need not parse the
// megabytes after it.
const ID = /^\{"id":(\d+),/;
const sink = Deno.args[0] === "sink";

const server = Deno.serve({
  hostname: "127.0.0.1",
  port: 0,
  onListen: ({ port }) => console.log(`ws://127.0.0.1:${port}`),
}, (request) => {
  if (request.headers.get("upgrade") !== "websocket") return new Response("ok");
  const { socket, response } = Deno.upgradeWebSocket(request);
  socket.onmessage = sink
    ? (event) => {
      const id = typeof event.data === "string" ? ID.exec(event.data.slice(0, 40))?.[1] : undefined;
      if (id !== undefined) socket.send(`{"id":${id},"result":{}}`);
    }
    : (event) => socket.send(event.data);
  return response;
});

Deno.addSignalListener("SIGTERM", () => {
  server.shutdown();
  Deno.exit(0);
});
