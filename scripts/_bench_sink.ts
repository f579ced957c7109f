/**
 * The floor for the upload line: a bare Deno websocket server on 127.0.0.1 that answers every
 * JSON-RPC request at once with an empty result, decoding nothing and writing nothing. It measures
 * what the benchmark's client and the loopback carry, the most any server could reach. Prints its
 * `ws://` URL as the first stdout line, like the exec-servers it is compared with.
 *
 * @example
 * ```sh
 * deno run --allow-net scripts/_bench_sink.ts
 * ```
 * @module
 */

// The benchmark's client writes the id first (`{"id":7,"method":...`): no need to parse the
// megabytes after it.
const ID = /^\{"id":(\d+),/;

const server = Deno.serve({
  hostname: "127.0.0.1",
  port: 0,
  onListen: ({ port }) => console.log(`ws://127.0.0.1:${port}`),
}, (request) => {
  if (request.headers.get("upgrade") !== "websocket") return new Response("ok");
  const { socket, response } = Deno.upgradeWebSocket(request);
  socket.onmessage = (event) => {
    const id = typeof event.data === "string" ? ID.exec(event.data.slice(0, 40))?.[1] : undefined;
    if (id !== undefined) socket.send(`{"id":${id},"result":{}}`);
  };
  return response;
});

Deno.addSignalListener("SIGTERM", () => {
  server.shutdown();
  Deno.exit(0);
});
