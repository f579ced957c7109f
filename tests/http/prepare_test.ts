import assert from "node:assert/strict";
import { prepareRequest } from "../../lib/http/prepare.ts";
import { httpRequestParams } from "../../lib/protocol/http.ts";

function prepare(overrides: Record<string, unknown>) {
  return prepareRequest(
    httpRequestParams.parse({
      method: "GET",
      url: "http://127.0.0.1:1/",
      requestId: "r",
      ...overrides,
    }),
  );
}

Deno.test({
  name: "http/request params get upstream defaults",
  timeout: 15_000,
}, () => {
  const parsed = httpRequestParams.parse({ method: "GET", url: "http://x/", requestId: "r" });
  assert.deepEqual(
    [parsed.headers, parsed.redirectPolicy, parsed.streamResponse, parsed.timeoutMs],
    [[], "follow", false, undefined],
  );
  const request = prepare({
    method: "patch",
    headers: [{ name: "A", value: "1" }, { name: "a", value: "2\tx" }],
    bodyBase64: "aGk=",
    timeoutMs: 0,
  });
  assert.equal(request.method, "patch");
  assert.deepEqual(request.headers, [["A", "1"], ["a", "2\tx"]]);
  assert.deepEqual(request.body, new TextEncoder().encode("hi"));
  assert.equal(request.timeoutMs, 0);
});

Deno.test({
  name: "http/request validation texts",
  timeout: 15_000,
}, () => {
  const cases: [Record<string, unknown>, string][] = [
    [{ method: "GET\r\n" }, "http/request method is invalid: invalid HTTP method"],
    [{ url: "/relative" }, "http/request url is invalid: relative URL without a base"],
    [{ url: "https://" }, "http/request url is invalid: empty host"],
    [{ url: "file:///etc/passwd" }, "http/request only supports http and https URLs, got file"],
    [
      { url: "http://exa mple.com/" },
      "http/request url is invalid: cannot parse `http://exa mple.com/`",
    ],
    [
      { headers: [{ name: "x:y", value: "1" }] },
      "http/request header name is invalid: invalid HTTP header name",
    ],
    [
      { headers: [{ name: "x", value: "é" }] },
      "http/request header value is invalid for x: failed to parse header value",
    ],
    [{ bodyBase64: "a" }, "http/request bodyBase64 is invalid: Invalid input length: 1"],
  ];
  for (const [overrides, message] of cases) {
    assert.throws(() => prepare(overrides), { code: -32602, message });
  }
});

Deno.test({
  name: "http/request valueEnvVar appends the server's variable to the value",
  timeout: 15_000,
}, () => {
  Deno.env.set("PREPARE_TEST_TOKEN", "sekrit");
  try {
    const request = prepare({
      headers: [
        { name: "authorization", value: "Bearer ", valueEnvVar: "PREPARE_TEST_TOKEN" },
        { name: "x-raw", value: "", valueEnvVar: "PREPARE_TEST_TOKEN" },
        { name: "x-raw", value: "plain", valueEnvVar: null },
      ],
    });
    assert.deepEqual(request.headers, [
      ["authorization", "Bearer sekrit"],
      ["x-raw", "sekrit"],
      ["x-raw", "plain"],
    ]);
  } finally {
    Deno.env.delete("PREPARE_TEST_TOKEN");
  }
  assert.throws(
    () =>
      prepare({
        headers: [{ name: "authorization", value: "", valueEnvVar: "PREPARE_TEST_UNSET" }],
      }),
    {
      code: -32602,
      message:
        "http/request header authorization requires executor environment variable PREPARE_TEST_UNSET",
    },
  );
  assert.throws(
    () =>
      httpRequestParams.parse({
        method: "GET",
        url: "http://x/",
        requestId: "r",
        headers: [{ name: "a", valueEnvVar: "X" }],
      }),
  );
});
