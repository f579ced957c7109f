import assert from "node:assert/strict";
import { checkTests, missingDeadlines } from "../../scripts/check_tests.ts";

Deno.test({
  name: "test check: every Deno.test under tests/ declares a deadline",
  timeout: 15_000,
}, async () => {
  assert.deepEqual(await checkTests("tests"), []);
});

Deno.test({
  name: "test check: a test without a timeout, or with one too long, is reported",
  timeout: 15_000,
}, () => {
  const text = [
    'Deno.test("no deadline, though its name says timeout: 5", async () => {});',
    'Deno.test({ name: "object form", fn() {} });',
    'Deno.test({ name: "ok", timeout: 5_000 }, () => {});',
    'Deno.test({ name: "too long", timeout: 900_000 }, () => {});',
    'Deno.test({ name: "later timeout", async fn() {}, timeout: 5000 });',
  ].join("\n");
  assert.deepEqual(missingDeadlines("x_test.ts", text).map((m) => m.line), [1, 2, 4, 5]);
});
