/**
 * A websocket proxy that drops a fraction of messages in both directions, for the relay line
 * with frame loss. The rendezvous is started with `--public-url` pointing here, so every
 * websocket URL it issues (executor and harness alike) goes through this proxy. The first few
 * messages of each connection always pass, so the stream can be set up at all; after that each
 * relay frame is lost with probability `loss`. Prints its `ws://` URL first, then on SIGTERM
 * how many messages it forwarded and dropped.
 *
 * @example
 * ```sh
 * deno run --allow-net scripts/_bench_lossy_proxy.ts ws://127.0.0.1:8080 0.05
 * ```
 * @module
 */

const [target, lossText] = Deno.args;
const loss = Number(lossText ?? "0.05");
const PASS_FIRST = 4;
let forwarded = 0;
let dropped = 0;

function pipe(from: WebSocket, to: WebSocket): void {
  let seen = 0;
  const queue: (string | ArrayBuffer)[] = [];
  to.addEventListener("open", () => {
    for (const data of queue.splice(0)) to.send(data);
  });
  from.onmessage = (event) => {
    seen++;
    if (seen > PASS_FIRST && Math.random() < loss) {
      dropped++;
      return;
    }
    forwarded++;
    if (to.readyState === WebSocket.OPEN) to.send(event.data);
    else queue.push(event.data);
  };
  from.onclose = () => {
    if (to.readyState <= WebSocket.OPEN) to.close();
  };
}

Deno.serve({
  hostname: "127.0.0.1",
  port: 0,
  onListen: ({ port }) => console.log(`ws://127.0.0.1:${port}`),
}, (request) => {
  const url = new URL(request.url);
  const headers: Record<string, string> = {};
  const auth = request.headers.get("authorization");
  if (auth) headers.authorization = auth;
  const upstream = new WebSocket(`${target}${url.pathname}${url.search}`, { headers });
  upstream.binaryType = "arraybuffer";
  const { socket, response } = Deno.upgradeWebSocket(request);
  socket.binaryType = "arraybuffer";
  pipe(socket, upstream);
  pipe(upstream, socket);
  return response;
});

Deno.addSignalListener("SIGTERM", () => {
  console.log(`forwarded ${forwarded}, dropped ${dropped}`);
  Deno.exit(0);
});
