/**
 * The registry bearer token of `remote` stays out of every environment its commands can read:
 * its own `/proc/<pid>/environ` and its children's environment.
 * @module
 */
import assert from "node:assert/strict";
import { startRemoteProcess, startRendezvousProcess } from "./_chain.ts";

const TOKEN = "secret-token-7f3a9c";
const TEST = { sanitizeOps: false, sanitizeResources: false };

function environOf(pid: number): string {
  return new TextDecoder().decode(Deno.readFileSync(`/proc/${pid}/environ`));
}

Deno.test({
  name: "remote: the bearer token from the environment is gone from /proc/<pid>/environ",
  timeout: 60_000,
  ...TEST,
}, async () => {
  await using rendezvous = await startRendezvousProcess({ token: TOKEN });
  await using remote = await startRemoteProcess(rendezvous.firstLine, "exec-secret", {
    token: TOKEN,
  });
  const environ = environOf(remote.child.pid);
  assert.ok(!environ.includes(TOKEN), "the token is readable in /proc/<pid>/environ");
  // The variable itself is left empty (the block cannot shrink), not the token.
  assert.ok(environ.includes("CODEX_EXEC_SERVER_REMOTE_BEARER_TOKEN="));
});

Deno.test({
  name: "remote: --token-file registers without the token in any environment",
  timeout: 60_000,
  ...TEST,
}, async () => {
  await using rendezvous = await startRendezvousProcess({ token: TOKEN });
  const file = await Deno.makeTempFile({ prefix: "remote-token-" });
  try {
    await Deno.writeTextFile(file, `${TOKEN}\n`);
    await using remote = await startRemoteProcess(rendezvous.firstLine, "exec-file", {
      token: "",
      env: { CODEX_EXEC_SERVER_REMOTE_BEARER_TOKEN: "" },
      args: ["--token-file", file],
    });
    assert.ok(!environOf(remote.child.pid).includes(TOKEN));
  } finally {
    await Deno.remove(file);
  }
});
