/**
 * `http/request` against the real server over a websocket, with real peers on 127.0.0.1
 * (spec §3.4, scenarios 45–50 and the listed error texts).
 */
import assert from "node:assert/strict";
import { assertRpcError, b64, openSession, unb64, unb64Bytes } from "../fs/_session.ts";
import type { TestClient } from "../_harness.ts";
import { rawPeer, reply, sleep, writeAll } from "./_servers.ts";

const INVALID_PARAMS = -32602;
const INTERNAL = -32603;
const MiB = 1024 * 1024;

interface Delta {
  requestId: string;
  seq: number;
  deltaBase64: string;
  done: boolean;
  error: string | null;
}

/** Waits for the terminal delta of `requestId` and returns all its deltas in arrival order. */
async function deltasUntilDone(client: TestClient, requestId: string): Promise<Delta[]> {
  await client.waitFor((m) =>
    m.method === "http/request/bodyDelta" &&
    (m.params as Delta).requestId === requestId && (m.params as Delta).done
  );
  return (client.notifications("http/request/bodyDelta") as unknown as Delta[])
    .filter((d) => d.requestId === requestId);
}

function concat(deltas: Delta[]): Uint8Array {
  const parts = deltas.map((d) => unb64Bytes(d.deltaBase64));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

Deno.test({
  name: "http/request over a websocket",
  timeout: 30_000,
}, async (t) => {
  await using s = await openSession();
  const { client } = s;

  await t.step(
    "a non-streamed 200 MiB body is refused once it passes the one-result limit",
    async () => {
      let written = 0;
      await using peer = rawPeer(async (_request, conn) => {
        await writeAll(conn, `HTTP/1.1 200 OK\r\ncontent-length: ${200 * MiB}\r\n\r\n`);
        const chunk = new Uint8Array(MiB).fill(0x61);
        try {
          for (let i = 0; i < 200; i++) {
            await writeAll(conn, chunk);
            written += MiB;
          }
        } catch {
          // the server stopped reading: what we want
        }
      });
      await assertRpcError(
        client.call("http/request", { method: "GET", url: `${peer.url}/big`, requestId: "big-1" }),
        INTERNAL,
        "http/request response body is larger than 49545216 bytes, the most one result can carry; " +
          "send the request with streamResponse: true",
      );
      assert.ok(written < 200 * MiB, `the server read all ${written / MiB} MiB`);
      assert.deepEqual(await client.call("fs/getMetadata", { path: "file:///" }) !== null, true);
    },
  );

  await t.step("scenario 45: buffered POST with headers and body", async () => {
    await using peer = rawPeer(reply(
      "HTTP/1.1 201 Created\r\nx-mcp-test: buffered\r\ncontent-length: 13\r\n\r\nresponse-body",
    ));
    const result = await client.call("http/request", {
      method: "POST",
      url: `${peer.url}/mcp?case=buffered`,
      headers: [{ name: "x-codex-test", value: "buffered" }],
      bodyBase64: b64("request-body"),
      requestId: "buffered-1",
    });
    const [request] = peer.requests;
    assert.equal(request.requestLine, "POST /mcp?case=buffered HTTP/1.1");
    assert.deepEqual(
      request.headers.filter(([name]) => name === "x-codex-test"),
      [["x-codex-test", "buffered"]],
    );
    assert.equal(new TextDecoder().decode(request.body), "request-body");
    assert.equal(result.status, 201);
    assert.deepEqual(
      (result.headers as { name: string; value: string }[]).find((h) => h.name === "x-mcp-test"),
      { name: "x-mcp-test", value: "buffered" },
    );
    assert.equal(result.bodyBase64, b64("response-body"));
  });

  await t.step("repeated headers keep their order on the wire and in the result", async () => {
    await using peer = rawPeer(reply(
      "HTTP/1.1 200 OK\r\nX-A: 1\r\nx-b: two\r\nx-a: 3\r\nset-cookie: a=1\r\n" +
        "set-cookie: b=2\r\nx-bin: \xff\xfe\r\ncontent-length: 2\r\n\r\nok",
    ));
    const result = await client.call("http/request", {
      method: "GET",
      url: `${peer.url}/headers`,
      headers: [
        { name: "X-Rep", value: "1" },
        { name: "x-other", value: "o" },
        { name: "x-rep", value: "2" },
      ],
      requestId: "headers-1",
    });
    const sent = peer.requests[0].headers.filter(([name]) => name.toLowerCase().startsWith("x-"));
    assert.deepEqual(sent, [["X-Rep", "1"], ["x-other", "o"], ["x-rep", "2"]]);
    assert.deepEqual(
      (result.headers as { name: string; value: string }[]).filter((h) =>
        h.name !== "content-length"
      ),
      [
        { name: "x-a", value: "1" },
        { name: "x-b", value: "two" },
        { name: "x-a", value: "3" },
        { name: "set-cookie", value: "a=1" },
        { name: "set-cookie", value: "b=2" },
      ],
    );
  });

  await t.step("scenario 47: redirectPolicy stop returns the 3xx untouched", async () => {
    await using target = rawPeer(reply("HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\ntarget"));
    await using peer = rawPeer(reply(
      `HTTP/1.1 302 Found\r\nlocation: ${target.url}/landing\r\ncontent-length: 0\r\n\r\n`,
    ));
    const stopped = await client.call("http/request", {
      method: "GET",
      url: `${peer.url}/start`,
      redirectPolicy: "stop",
      requestId: "redirect-stop",
    });
    assert.equal(stopped.status, 302);
    assert.deepEqual(
      (stopped.headers as { name: string; value: string }[]).find((h) => h.name === "location"),
      { name: "location", value: `${target.url}/landing` },
    );
    assert.equal(stopped.bodyBase64, "");
    assert.equal(target.requests.length, 0);

    const followed = await client.call("http/request", {
      method: "GET",
      url: `${peer.url}/start`,
      requestId: "redirect-follow",
    });
    assert.equal(followed.status, 200);
    assert.equal(unb64(followed.bodyBase64 as string), "target");
    assert.equal(target.requests[0].requestLine, "GET /landing HTTP/1.1");
  });

  await t.step("scenario 48: streamed body arrives after the response, seq from 1", async () => {
    await using peer = rawPeer(async (_request, conn) => {
      await writeAll(
        conn,
        "HTTP/1.1 200 OK\r\nx-stream: yes\r\ntransfer-encoding: chunked\r\n\r\n6\r\nhello \r\n",
      );
      await sleep(150);
      await writeAll(conn, "5\r\nworld\r\n0\r\n\r\n");
    });
    const response = await client.request("http/request", {
      method: "GET",
      url: `${peer.url}/stream`,
      requestId: "stream-1",
      streamResponse: true,
    });
    const result = response.result as Record<string, unknown>;
    assert.equal(result.status, 200);
    assert.equal(result.bodyBase64, "");
    assert((result.headers as { name: string }[]).some((h) => h.name === "x-stream"));
    const deltas = await deltasUntilDone(client, "stream-1");
    assert.deepEqual(deltas.map((d) => d.seq), deltas.map((_, i) => i + 1));
    assert.equal(new TextDecoder().decode(concat(deltas)), "hello world");
    const last = deltas.at(-1)!;
    assert.equal(last.done, true);
    assert.equal(last.error, null);
    assert(deltas.slice(0, -1).every((d) => !d.done && d.error === null));
    // The response was written before the first delta.
    const responseIndex = client.received.indexOf(response);
    const firstDelta = client.received.findIndex((m) =>
      m.method === "http/request/bodyDelta" && (m.params as Delta).requestId === "stream-1"
    );
    assert(responseIndex >= 0 && responseIndex < firstDelta);
  });

  await t.step("streamed deltas carry at most 1 MiB each", async () => {
    const body = new Uint8Array(2 * MiB + 512 * 1024);
    for (let i = 0; i < body.length; i++) body[i] = (i * 7) % 256;
    await using peer = rawPeer(async (_request, conn) => {
      await writeAll(conn, `HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n\r\n`);
      await writeAll(conn, body);
    });
    await client.call("http/request", {
      method: "GET",
      url: `${peer.url}/big`,
      requestId: "stream-big",
      streamResponse: true,
    });
    const deltas = await deltasUntilDone(client, "stream-big");
    assert(deltas.every((d) => unb64Bytes(d.deltaBase64).length <= MiB));
    const received = concat(deltas);
    assert.equal(received.length, body.length);
    assert(received.every((byte, i) => byte === body[i]), "streamed body differs");
  });

  await t.step("a body cut short ends the stream with an error frame", async () => {
    await using peer = rawPeer(async (_request, conn) => {
      await writeAll(conn, "HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly-some");
    });
    await client.call("http/request", {
      method: "GET",
      url: `${peer.url}/short`,
      requestId: "stream-short",
      streamResponse: true,
    });
    const deltas = await deltasUntilDone(client, "stream-short");
    const last = deltas.at(-1)!;
    assert.equal(last.done, true);
    assert.match(last.error ?? "", /^failed to read http\/request response body: /);
  });

  await t.step("a buffered body cut short is a -32603 body read error", async () => {
    await using peer = rawPeer(async (_request, conn) => {
      await writeAll(conn, "HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly-some");
    });
    await assertRpcError(
      client.call("http/request", { method: "GET", url: `${peer.url}/x`, requestId: "short" }),
      INTERNAL,
      /^failed to read http\/request response body: /,
    );
  });

  await t.step("scenario 49: a duplicate active stream id is refused", async () => {
    const release = Promise.withResolvers<void>();
    await using peer = rawPeer(async (_request, conn) => {
      await writeAll(conn, "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\none\r\n");
      await release.promise;
      await writeAll(conn, "0\r\n\r\n");
    });
    const params = {
      method: "GET",
      url: `${peer.url}/dup`,
      requestId: "stream-dup",
      streamResponse: true,
    };
    await client.call("http/request", params);
    await assertRpcError(
      client.call("http/request", params),
      INVALID_PARAMS,
      "http/request streamResponse requestId `stream-dup` is already active",
    );
    release.resolve();
    await deltasUntilDone(client, "stream-dup");
    // Released after the terminal frame: the id can be used again.
    await client.call("http/request", { ...params, streamResponse: false });
    await client.call("http/request", params);
  });

  await t.step("scenario 50: no timeout by default; timeoutMs is a deadline", async () => {
    await using peer = rawPeer(async (_request, conn) => {
      await sleep(100);
      await writeAll(conn, "HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nlate");
    });
    const waited = await client.call("http/request", {
      method: "GET",
      url: `${peer.url}/slow`,
      requestId: "slow-1",
    });
    assert.equal(unb64(waited.bodyBase64 as string), "late");
    const started = performance.now();
    await assertRpcError(
      client.call("http/request", {
        method: "GET",
        url: `${peer.url}/slow`,
        requestId: "slow-2",
        timeoutMs: 10,
      }),
      INTERNAL,
      /^http\/request failed: .*timed out/,
    );
    assert(performance.now() - started < 1000);
  });

  await t.step("a slow stream is aborted when the connection ends", async () => {
    const aborted = Promise.withResolvers<void>();
    await using peer = rawPeer(async (_request, conn) => {
      await writeAll(conn, "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n");
      try {
        // Trickle forever; a write fails once the server drops the request.
        for (let i = 0; i < 500; i++) {
          await writeAll(conn, "4\r\ntick\r\n");
          await sleep(20);
        }
      } catch {
        aborted.resolve();
      }
    });
    const other = await s.connect();
    await other.call("http/request", {
      method: "GET",
      url: `${peer.url}/forever`,
      requestId: "forever",
      streamResponse: true,
    });
    await other.waitFor((m) => m.method === "http/request/bodyDelta");
    await other.close();
    const timeout = sleep(5000).then(() => "timeout");
    assert.notEqual(await Promise.race([aborted.promise, timeout]), "timeout");
  });

  await t.step("connection failures are -32603 http/request failed", async () => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (listener.addr as Deno.NetAddr).port;
    listener.close();
    await assertRpcError(
      client.call("http/request", {
        method: "GET",
        url: `http://127.0.0.1:${port}/`,
        requestId: "refused",
      }),
      INTERNAL,
      /^http\/request failed: error sending request for url \(http:\/\/127\.0\.0\.1:\d+\/\)/,
    );
  });

  await t.step("invalid requests are -32602 with upstream's texts", async () => {
    const base = { method: "GET", url: "http://127.0.0.1:9/", requestId: "bad" };
    const cases: [Record<string, unknown>, string][] = [
      [{ method: "GE T" }, "http/request method is invalid: invalid HTTP method"],
      [{ method: "" }, "http/request method is invalid: invalid HTTP method"],
      [{ url: "not a url" }, "http/request url is invalid: relative URL without a base"],
      [{ url: "http://" }, "http/request url is invalid: empty host"],
      [{ url: "ftp://x/y" }, "http/request only supports http and https URLs, got ftp"],
      [
        { headers: [{ name: "bad name", value: "x" }] },
        "http/request header name is invalid: invalid HTTP header name",
      ],
      [
        { headers: [{ name: "", value: "x" }] },
        "http/request header name is invalid: invalid HTTP header name",
      ],
      [
        { headers: [{ name: "x-ok", value: "a\nb" }] },
        "http/request header value is invalid for x-ok: failed to parse header value",
      ],
      [{ bodyBase64: "!!" }, "http/request bodyBase64 is invalid: Invalid symbol 33, offset 0."],
      [{ redirectPolicy: "sometimes" }, ""],
    ];
    for (const [override, message] of cases) {
      const error = await assertRpcError(
        client.call("http/request", { ...base, ...override }),
        INVALID_PARAMS,
        message === "" ? /./ : message,
      );
      assert(error.message.length > 0);
    }
    await assertRpcError(
      client.call("http/request", { method: "GET", url: "http://127.0.0.1:9/" }),
      INVALID_PARAMS,
      "missing field `requestId`",
    );
  });
});

Deno.test({
  name: "scenario 46: loopback requests bypass HTTP_PROXY/ALL_PROXY",
  timeout: 15_000,
}, async () => {
  await using proxy = rawPeer(reply("HTTP/1.1 599 Proxy\r\ncontent-length: 5\r\n\r\nproxy"));
  await using peer = rawPeer(reply("HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\ndirect"));
  await using s = await openSession({
    env: { HTTP_PROXY: proxy.url, ALL_PROXY: proxy.url, NO_PROXY: "", no_proxy: "" },
  });
  const result = await s.client.call("http/request", {
    method: "GET",
    url: `${peer.url}/direct`,
    requestId: "loopback",
  });
  assert.equal(result.status, 200);
  assert.equal(unb64(result.bodyBase64 as string), "direct");
  assert.equal(proxy.requests.length, 0);
  assert.equal(peer.requests[0].requestLine, "GET /direct HTTP/1.1");

  // Other hosts still honour the proxy settings, like upstream's client.
  const proxied = await s.client.call("http/request", {
    method: "GET",
    url: "http://exec-server-test.invalid/via-proxy",
    requestId: "proxied",
  });
  assert.equal(proxied.status, 599);
  assert.match(
    proxy.requests[0].requestLine,
    /^GET http:\/\/exec-server-test\.invalid\/via-proxy /,
  );
});

Deno.test({
  name: "httpHeaderEnvVars: valueEnvVar takes the secret from the server's environment",
  timeout: 15_000,
}, async () => {
  await using s = await openSession({ env: { HTTP_TEST_MCP_TOKEN: "server-side-secret" } });
  const info = await s.client.call("environment/info");
  assert.equal((info.capabilities as Record<string, boolean>).httpHeaderEnvVars, true);
  await using peer = rawPeer(reply("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"));
  await s.client.call("http/request", {
    method: "POST",
    url: `${peer.url}/mcp`,
    headers: [
      { name: "authorization", value: "Bearer ", valueEnvVar: "HTTP_TEST_MCP_TOKEN" },
      { name: "x-plain", value: "1" },
    ],
    requestId: "env-1",
  });
  const sent = peer.requests[0].headers.filter(([name]) =>
    ["authorization", "x-plain"].includes(name)
  );
  assert.deepEqual(sent, [["authorization", "Bearer server-side-secret"], ["x-plain", "1"]]);
  await assertRpcError(
    s.client.call("http/request", {
      method: "GET",
      url: `${peer.url}/`,
      headers: [{ name: "authorization", value: "Bearer ", valueEnvVar: "HTTP_TEST_NOPE" }],
      requestId: "env-2",
    }),
    INVALID_PARAMS,
    "http/request header authorization requires executor environment variable HTTP_TEST_NOPE",
  );
  await assertRpcError(
    s.client.call("http/request", {
      method: "GET",
      url: `${peer.url}/`,
      headers: [{ name: "authorization", valueEnvVar: "HTTP_TEST_MCP_TOKEN" }],
      requestId: "env-3",
    }),
    INVALID_PARAMS,
    "missing field `value`",
  );
});
