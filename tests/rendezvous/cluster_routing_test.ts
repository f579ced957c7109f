import assert from "node:assert/strict";
import { runCli } from "../cli/_cli.ts";
import { startRemoteProcess } from "../remote/_chain.ts";
import { within } from "../relay/_helpers.ts";
import { metric, startNode } from "./_cluster.ts";
import { NO_NATS, startNats } from "./_nats.ts";

const TOKEN = "cluster-token";
const ENV = { CODEX_EXEC_SERVER_REMOTE_BEARER_TOKEN: TOKEN };

function expectedSeq(tag: string, n: number): string {
  let text = "";
  for (let i = 1; i <= n; i++) text += `${tag} ${i}\n`;
  return text;
}

Deno.test({
  timeout: 120_000,
  name:
    "cluster: executor on node A, exec through node B (forwarded over NATS) and C (sent to A): byte-exact output, exit codes, no cross-talk",
  ignore: NO_NATS,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    within(
      120_000,
      "cluster routing test",
      (async () => {
        await using nats = await startNats();
        await using a = await startNode(nats.url, "A", { token: TOKEN });
        await using b = await startNode(nats.url, "B", {
          token: TOKEN,
          args: ["--harness-routing", "forward"],
        });
        await using c = await startNode(nats.url, "C", { token: TOKEN });
        await using remote = await startRemoteProcess(a.url, "e1", { token: TOKEN });
        const exec = (node: string, script: string) =>
          runCli(["exec", "--registry", node, "--executor-id", "e1", "--", "sh", "-c", script], {
            env: ENV,
          });

        // Through B: B forwards every frame to A over NATS.
        const big = await exec(b.url, "seq -f 'b %g' 1 60000; exit 7");
        assert.equal(big.code, 7, big.stderr);
        assert.ok(big.stdout === expectedSeq("b", 60000), "forwarded output differs");
        const forwardedBytes = await metric(
          b.url,
          'rendezvous_cluster_bytes_total{node="B",direction="in"}',
        );
        assert.ok(forwardedBytes! > 60000 * 6, `B forwarded ${forwardedBytes} bytes`);
        assert.equal(
          await metric(a.url, 'rendezvous_cluster_sockets{node="A",side="remote"}'),
          0,
          "the remote socket is gone once the client left",
        );
        assert.ok((await metric(a.url, 'rendezvous_resets_injected_total{node="A"}'))! >= 1);

        // Through C (direct routing): connect names A, so frames never cross nodes.
        const direct = await exec(c.url, "seq -f 'c %g' 1 20000; exit 3");
        assert.equal(direct.code, 3, direct.stderr);
        assert.ok(direct.stdout === expectedSeq("c", 20000), "direct output differs");
        assert.equal(
          await metric(c.url, 'rendezvous_cluster_frames_total{node="C",direction="in"}'),
          0,
        );
        assert.equal(await metric(a.url, 'rendezvous_executors_online{node="A"}'), 1);
        assert.equal(await metric(b.url, 'rendezvous_executors_online{node="B"}'), 0);

        // Two concurrent clients through B: each gets its own bytes only.
        const [one, two] = await Promise.all([
          exec(b.url, 'for i in $(seq 1 3000); do echo "one $i"; done; exit 11'),
          exec(b.url, 'for i in $(seq 1 3000); do echo "two $i"; done; exit 12'),
        ]);
        assert.equal(one.code, 11, one.stderr);
        assert.equal(two.code, 12, two.stderr);
        assert.ok(one.stdout === expectedSeq("one", 3000), "client one saw foreign or lost bytes");
        assert.ok(two.stdout === expectedSeq("two", 3000), "client two saw foreign or lost bytes");

        // Every node names itself in its logs.
        assert.equal((await remote.stop()).code, 0);
        await a.waitForStderr("rendezvous[A]: executor e1 connected");
        await b.waitForStderr("rendezvous[B]: harness");
      })(),
    ),
});
