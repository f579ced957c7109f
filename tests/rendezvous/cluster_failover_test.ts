import assert from "node:assert/strict";
import { runCli } from "../cli/_cli.ts";
import { startRemoteProcess } from "../remote/_chain.ts";
import { within } from "../relay/_helpers.ts";
import { startFailoverFront, startNode } from "./_cluster.ts";
import { NO_NATS, startNats } from "./_nats.ts";

const TOKEN = "cluster-token";
const LINES = 300;

function expected(tag: string): string {
  let text = "";
  for (let i = 1; i <= LINES; i++) text += `${tag} ${i}\n`;
  return text;
}

Deno.test({
  timeout: 120_000,
  name:
    "cluster failover: SIGKILL the executor's node mid-output; the executor moves, both clients finish with every byte exactly once",
  ignore: NO_NATS,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    within(
      120_000,
      "cluster failover test",
      (async () => {
        await using nats = await startNats();
        const a = await startNode(nats.url, "A", { token: TOKEN });
        await using b = await startNode(nats.url, "B", { token: TOKEN });
        await using c = await startNode(nats.url, "C", {
          token: TOKEN,
          args: ["--harness-routing", "forward"],
        });
        try {
          // The executor's registry URL is a front that prefers A (a load balancer would pick
          // any live node); once A is gone it leads to B.
          await using front = startFailoverFront([a.port, b.port]);
          await using remote = await startRemoteProcess(front.url, "e1", {
            token: TOKEN,
            env: {
              CODEX_EXEC_SERVER_REMOTE_INITIAL_BACKOFF_MS: "100",
              CODEX_EXEC_SERVER_REMOTE_MAX_BACKOFF_MS: "500",
            },
          });
          await a.waitForStderr("rendezvous[A]: executor e1 connected");
          const seen = { direct: 0, forwarded: 0 };
          const run = (node: string, tag: keyof typeof seen, code: number) =>
            runCli([
              "exec",
              "--registry",
              node,
              "--executor-id",
              "e1",
              "--",
              "sh",
              "-c",
              `for i in $(seq 1 ${LINES}); do echo "${tag} $i"; sleep 0.01; done; exit ${code}`,
            ], {
              env: { CODEX_EXEC_SERVER_REMOTE_BEARER_TOKEN: TOKEN },
              onStdout: (text) => seen[tag] += text.length,
            });
          // Through B (direct: its harness socket is on A) and through C (forwarded to A).
          const direct = run(b.url, "direct", 5);
          const forwarded = run(c.url, "forwarded", 6);
          const deadline = Date.now() + 30_000;
          while (seen.direct < 200 || seen.forwarded < 200) {
            assert.ok(Date.now() < deadline, `no output yet: ${JSON.stringify(seen)}`);
            await new Promise((r) => setTimeout(r, 20));
          }
          const killedAt = performance.now();
          await a.stop("SIGKILL");
          await b.waitForStderr("rendezvous[B]: executor e1 connected", 20_000);
          const movedMs = performance.now() - killedAt;
          await remote.waitForStderr("registering again");
          const [d, f] = await Promise.all([direct, forwarded]);
          const doneMs = performance.now() - killedAt;
          assert.equal(d.code, 5, d.stderr);
          assert.equal(f.code, 6, f.stderr);
          assert.ok(
            d.stdout === expected("direct"),
            `direct client: lost or duplicated bytes\n${d.stdout}`,
          );
          assert.ok(
            f.stdout === expected("forwarded"),
            `forwarded client: lost or duplicated bytes\n${f.stdout}`,
          );
          console.log(
            `failover: executor on B ${
              movedMs.toFixed(0)
            } ms after SIGKILL of A; both commands done after ${doneMs.toFixed(0)} ms`,
          );
          assert.equal((await remote.stop()).code, 0);
        } finally {
          await a.stop("SIGKILL");
        }
      })(),
    ),
});
