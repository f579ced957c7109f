import assert from "node:assert/strict";
import { performRequest } from "../../lib/http/request.ts";
import { isLoopback, sendOnce } from "../../lib/http/send.ts";
import { rawPeer, reply, writeAll } from "./_servers.ts";

Deno.test({
  name: "loopback detection covers literal loopback addresses and localhost",
  timeout: 15_000,
}, () => {
  for (
    const url of [
      "http://127.0.0.1/",
      "http://127.1.2.3:8/",
      "http://[::1]:9/",
      "http://localhost/",
    ]
  ) {
    assert(isLoopback(new URL(url)), url);
  }
  for (const url of ["http://10.0.0.1/", "http://example.com/", "http://128.0.0.1/"]) {
    assert(!isLoopback(new URL(url)), url);
  }
});

Deno.test({
  name: "sendOnce sends the request line, headers in order and a sized body",
  timeout: 15_000,
}, async () => {
  await using peer = rawPeer(reply("HTTP/1.1 204 No Content\r\nX-Y: z\r\n\r\n"));
  const response = await sendOnce({
    method: "PUT",
    url: new URL(`${peer.url}/p?q=1`),
    headers: [["B", "1"], ["a", "2"], ["b", "3"]],
    body: new TextEncoder().encode("body"),
  }, { signal: AbortSignal.timeout(5000) });
  await response.body.cancel();
  assert.equal(response.status, 204);
  assert.deepEqual(response.headers, [["x-y", "z"]]);
  const [request] = peer.requests;
  assert.equal(request.requestLine, "PUT /p?q=1 HTTP/1.1");
  assert.deepEqual(request.headers.slice(0, 3), [["B", "1"], ["a", "2"], ["b", "3"]]);
  assert.deepEqual(
    request.headers.find(([n]) => n === "host"),
    ["host", `127.0.0.1:${peer.port}`],
  );
  assert.deepEqual(request.headers.find(([n]) => n === "content-length"), ["content-length", "4"]);
  assert.equal(new TextDecoder().decode(request.body), "body");
});

Deno.test({
  name: "redirects: 303 becomes a body-less GET, credentials stay on their origin",
  timeout: 15_000,
}, async () => {
  await using other = rawPeer(reply("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"));
  await using peer = rawPeer(async (request, conn) => {
    if (request.requestLine.startsWith("POST /first")) {
      await writeAll(
        conn,
        "HTTP/1.1 303 See Other\r\nlocation: /second\r\ncontent-length: 0\r\n\r\n",
      );
    } else {
      await writeAll(
        conn,
        `HTTP/1.1 307 Temporary\r\nlocation: ${other.url}/third\r\ncontent-length: 0\r\n\r\n`,
      );
    }
  });
  const response = await performRequest({
    method: "POST",
    url: new URL(`${peer.url}/first`),
    headers: [["authorization", "Bearer t"], ["content-type", "text/plain"]],
    body: new TextEncoder().encode("payload"),
    redirectPolicy: "follow",
  }, { signal: AbortSignal.timeout(5000) });
  await response.body.cancel();
  response.finish();
  assert.equal(response.status, 200);
  const second = peer.requests[1];
  assert.equal(second.requestLine, "GET /second HTTP/1.1");
  assert.equal(second.body.length, 0);
  assert(second.headers.some(([n]) => n === "authorization"));
  assert(!second.headers.some(([n]) => n === "content-type"));
  const third = other.requests[0];
  assert.equal(third.requestLine, "GET /third HTTP/1.1");
  assert(!third.headers.some(([n]) => n === "authorization"));
});

Deno.test({
  name: "redirect loops stop after 10 hops",
  timeout: 15_000,
}, async () => {
  await using peer = rawPeer(
    reply("HTTP/1.1 302 Found\r\nlocation: /again\r\ncontent-length: 0\r\n\r\n"),
  );
  await assert.rejects(
    () =>
      performRequest({
        method: "GET",
        url: new URL(`${peer.url}/start`),
        headers: [],
        redirectPolicy: "follow",
      }, { signal: AbortSignal.timeout(5000) }),
    { message: /too many redirects$/ },
  );
  assert.equal(peer.requests.length, 11);
});

Deno.test({
  name: "the deadline also bounds the body",
  timeout: 15_000,
}, async () => {
  await using peer = rawPeer(async (_request, conn) => {
    await writeAll(conn, "HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nab");
    // Hold the body open until the client gives up and closes the connection.
    await conn.read(new Uint8Array(1)).catch(() => null);
  });
  const response = await performRequest({
    method: "GET",
    url: new URL(peer.url),
    headers: [],
    timeoutMs: 100,
    redirectPolicy: "follow",
  }, { signal: new AbortController().signal });
  const started = performance.now();
  await assert.rejects(async () => {
    for await (const _ of response.body) { /* drain */ }
  });
  response.finish();
  assert(performance.now() - started < 1500);
  assert(response.signal.aborted);
});
