import assert from "node:assert/strict";
import fc from "fast-check";
import { pathFromUri, uriFromPath } from "../../lib/protocol/file_uri.ts";

Deno.test({
  name: "uriFromPath escapes like the url crate (answer of codex 0.169.0)",
  timeout: 15_000,
}, () => {
  const name = "a\\b|c^d[e]f{g}h`i;j=k@l$m&n'o(p)q*r+s,t!u~v é\t%#?\"<>";
  assert.equal(
    uriFromPath(`/tmp/x/${name}`),
    "file:///tmp/x/a%5Cb|c^d[e]f%7Bg%7Dh%60i;j=k@l$m&n'o(p)q*r+s,t!u~v%20%C3%A9%09%25%23%3F%22%3C%3E",
  );
  assert.equal(pathFromUri(uriFromPath(`/tmp/x/${name}`)), `/tmp/x/${name}`);
});

Deno.test({
  name: "paths survive a round trip through a file: URI",
  timeout: 60_000,
}, () => {
  const segment = fc.string({ unit: "binary", minLength: 1, maxLength: 12 })
    .filter((s) =>
      !s.includes("/") && !s.includes("\0") && s !== "." && s !== ".." &&
      // Lone surrogates are not representable as UTF-8 paths.
      s.isWellFormed()
    );
  fc.assert(
    fc.property(fc.array(segment, { minLength: 1, maxLength: 4 }), (segments) => {
      const path = `/${segments.join("/")}`;
      assert.equal(pathFromUri(uriFromPath(path)), path);
    }),
    { numRuns: 300 },
  );
});

Deno.test({
  name: "pathFromUri rejects what the host cannot use",
  timeout: 15_000,
}, () => {
  assert.throws(() => pathFromUri("relative/path"), { code: -32602 });
  assert.throws(() => pathFromUri("file://server/share/f"), { code: -32600 });
  assert.throws(() => pathFromUri("file:///C:/Users/x"), { code: -32600 });
  assert.equal(pathFromUri("file://localhost/tmp/a%20b"), "/tmp/a b");
});
