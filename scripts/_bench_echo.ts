/**
 * The floor for the RPC and memory lines: a bare Deno websocket server on 127.0.0.1 that echoes
 * every message back and does nothing else. Prints its `ws://` URL as the first stdout line, like
 * the exec-servers it is compared with.
 *
 * @example
 * ```sh
 * deno run --allow-net scripts/_bench_echo.ts
 * ```
 * @module
 */

const server = Deno.serve({
  hostname: "127.0.0.1",
  port: 0,
  onListen: ({ port }) => console.log(`ws://127.0.0.1:${port}`),
}, (request) => {
  if (request.headers.get("upgrade") !== "websocket") return new Response("ok");
  const { socket, response } = Deno.upgradeWebSocket(request);
  socket.onmessage = (event) => socket.send(event.data);
  return response;
});

Deno.addSignalListener("SIGTERM", () => {
  server.shutdown();
  Deno.exit(0);
});
