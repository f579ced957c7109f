import assert from "node:assert/strict";
import { isLoopbackHost } from "../../lib/util/loopback.ts";

Deno.test({
  name: "loopback hosts are 127/8, ::1 and localhost, not names that merely start with 127.",
  timeout: 15_000,
}, () => {
  for (const host of ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost", "api.localhost"]) {
    assert.equal(isLoopbackHost(host), true, host);
  }
  for (const host of ["127.example.com", "0.0.0.0", "10.0.0.1", "::", "localhost.example.com"]) {
    assert.equal(isLoopbackHost(host), false, host);
  }
});
