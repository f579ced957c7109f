/**
 * E5 Noise environments on a cluster: a real nats-server, `rendezvous --cluster` nodes as
 * child processes, our `remote --environment-id` executor on node A and our `exec` client
 * through node B (forward routing: every frame crosses NATS). Registrations, authorizations
 * and used URL nonces live in JetStream KV, so `connect` on one node and `validate` on another
 * agree, and a ticket validates once across the cluster.
 */
import assert from "node:assert/strict";
import { generateHybridKeyPair, publicKeyToJson } from "../../lib/noise/mod.ts";
import { runCli } from "../cli/_cli.ts";
import { within } from "../relay/_helpers.ts";
import { bundleFor, RawHarness, startExecutor, UPSTREAM } from "../remote/_e5.ts";
import { metric, startFailoverFront, startNode } from "./_cluster.ts";
import { NO_NATS, startNats } from "./_nats.ts";

const TOKEN = "cluster-e5-token";
const ENVIRONMENT = "env-cluster";
const LINES = 300;

function expected(tag: string): string {
  let text = "";
  for (let i = 1; i <= LINES; i++) text += `${tag} ${i}\n`;
  return text;
}

function exec(registry: string, script: string, onStdout?: (text: string) => void) {
  return runCli(
    ["exec", "--registry", registry, "--environment-id", ENVIRONMENT, "--", "sh", "-c", script],
    { env: { CODEX_EXEC_SERVER_NOISE_AUTH_TOKEN: TOKEN }, onStdout },
  );
}

async function validate(base: string, body: unknown): Promise<boolean> {
  const response = await fetch(`${base}/cloud/environment/${ENVIRONMENT}/validate`, {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  assert.equal(response.status, 200);
  return (await response.json()).valid;
}

Deno.test({
  timeout: 150_000,
  name:
    "cluster e5: environment on A, exec through B byte-exact; a ticket validates once across nodes; SIGKILL A: the environment re-registers on B and the command completes exactly once",
  ignore: NO_NATS,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    within(
      150_000,
      "cluster e5 test",
      (async () => {
        await using nats = await startNats();
        const a = await startNode(nats.url, "A", { token: TOKEN });
        await using b = await startNode(nats.url, "B", {
          token: TOKEN,
          args: ["--harness-routing", "forward"],
        });
        try {
          // The executor's registry URL: a front preferring A (a load balancer picks any live
          // node); once A is gone it leads to B.
          await using front = startFailoverFront([a.port, b.port]);
          await using executor = await startExecutor("ours", front.url, ENVIRONMENT, {
            token: TOKEN,
            env: {
              CODEX_EXEC_SERVER_REMOTE_INITIAL_BACKOFF_MS: "100",
              CODEX_EXEC_SERVER_REMOTE_MAX_BACKOFF_MS: "500",
            },
          });
          await a.waitForStderr(`rendezvous[A]: executor ${ENVIRONMENT} connected`);

          // 1. Through B: registered on A, connect + websocket on B, frames over NATS.
          const script = "printf 'a\\0b\\377\\n'; head -c 300000 /dev/zero | tr '\\0' 'q'; " +
            "printf tail; exit 4";
          const first = await exec(b.url, script);
          assert.equal(first.code, 4, first.stderr);
          const want = new Uint8Array([
            0x61,
            0,
            0x62,
            0xff,
            0x0a,
            ...new TextEncoder().encode("q".repeat(300_000) + "tail"),
          ]);
          assert.equal(first.stdoutBytes.length, want.length);
          assert.deepEqual(first.stdoutBytes, want);
          assert.ok(
            (await metric(b.url, 'rendezvous_cluster_bytes_total{node="B",direction="in"}'))! >
              300_000,
            "B did not forward the output over NATS",
          );

          // 2. A ticket issued by B's connect validates once, on whichever node asks first.
          const harnessKey = await generateHybridKeyPair();
          const bundle = await bundleFor(b.url, ENVIRONMENT, TOKEN, harnessKey);
          const body = {
            executor_registration_id: bundle.registrationId,
            harness_public_key: publicKeyToJson(harnessKey.public),
            harness_key_authorization: bundle.authorization,
          };
          assert.equal(await validate(a.url, body), true, "A does not know B's ticket");
          assert.equal(await validate(b.url, body), false, "a used ticket replayed on B");
          assert.equal(await validate(a.url, body), false, "a used ticket replayed on A");
          // Racing: 8 validations of one fresh ticket on both nodes at once; one wins.
          const raced = await bundleFor(a.url, ENVIRONMENT, TOKEN, harnessKey);
          const verdicts = await Promise.all(
            Array.from({ length: 8 }, (_, i) =>
              validate(i % 2 ? a.url : b.url, {
                ...body,
                harness_key_authorization: raced.authorization,
              })),
          );
          assert.equal(verdicts.filter((v) => v).length, 1, `verdicts ${verdicts}`);
          // A used ticket in a real handshake: the executor's /validate (through the front, on
          // A) refuses it, the harness gets a reset.
          {
            await using harness = await RawHarness.open(b.url, ENVIRONMENT, TOKEN);
            harness.send({ case: "resume", value: { nextSeq: 0 } });
            const { message } = await harness.message1(bundle.authorization);
            harness.send({ case: "handshake", value: { payload: message } });
            const reset = await within(15_000, "reset of a replayed ticket", harness.next("reset"));
            assert.equal(
              (reset.body.value as { reason: string }).reason,
              "noise_relay_protocol_error",
            );
          }
          // A harness URL opens once; a second upgrade (same node) is refused, another node
          // refuses it as not its own.
          {
            const again = await bundleFor(b.url, ENVIRONMENT, TOKEN, harnessKey);
            const socket = new WebSocket(again.url);
            await new Promise((resolve, reject) => {
              socket.onopen = resolve;
              socket.onerror = reject;
            });
            const replay = await fetch(again.url.replace(/^ws/, "http"), {
              headers: { upgrade: "websocket" },
            });
            assert.equal(replay.status, 401);
            assert.match((await replay.json()).error.message, /single-use/);
            const elsewhere = await fetch(
              again.url.replace(/^ws/, "http").replace(`:${b.port}/`, `:${a.port}/`),
              { headers: { upgrade: "websocket" } },
            );
            assert.equal(elsewhere.status, 421);
            await elsewhere.body?.cancel();
            const closed = new Promise((resolve) => socket.onclose = resolve);
            socket.close();
            await closed;
          }

          // 3. SIGKILL A mid-output: the executor registers again through the front (on B);
          // the client's session resumes there, every line exactly once.
          let seen = 0;
          const running = exec(
            b.url,
            `for i in $(seq 1 ${LINES}); do echo "line $i"; sleep 0.01; done; exit 6`,
            (text) => seen += text.length,
          );
          const deadline = Date.now() + 30_000;
          while (seen < 300) {
            assert.ok(Date.now() < deadline, `no output yet (${seen} bytes)`);
            await new Promise((r) => setTimeout(r, 20));
          }
          const killedAt = performance.now();
          await a.stop("SIGKILL");
          await b.waitForStderr(`rendezvous[B]: executor ${ENVIRONMENT} connected`, 20_000);
          const movedMs = performance.now() - killedAt;
          await executor.waitForStderr("registering again");
          const done = await running;
          const doneMs = performance.now() - killedAt;
          assert.equal(done.code, 6, done.stderr);
          assert.ok(done.stdout === expected("line"), `lost or duplicated bytes\n${done.stdout}`);
          console.log(
            `e5 failover: environment on B ${movedMs.toFixed(0)} ms after SIGKILL of A; ` +
              `command done after ${doneMs.toFixed(0)} ms`,
          );
        } finally {
          await a.stop("SIGKILL");
        }
      })(),
    ),
});

Deno.test({
  timeout: 90_000,
  name:
    "cluster e5: upstream's executor (codex exec-server --remote) on node A, exec through node B: output byte-exact over NATS",
  ignore: NO_NATS || !("binary" in UPSTREAM),
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    within(
      90_000,
      "cluster e5 upstream test",
      (async () => {
        await using nats = await startNats();
        await using a = await startNode(nats.url, "A", { token: TOKEN });
        await using b = await startNode(nats.url, "B", {
          token: TOKEN,
          args: ["--harness-routing", "forward"],
        });
        await using _executor = await startExecutor("upstream", a.url, ENVIRONMENT, {
          token: TOKEN,
        });
        const result = await exec(b.url, "seq -f 'u %g' 1 20000; exit 9");
        assert.equal(result.code, 9, result.stderr);
        let want = "";
        for (let i = 1; i <= 20000; i++) want += `u ${i}\n`;
        assert.ok(result.stdout === want, "output through B differs");
        assert.ok(
          (await metric(b.url, 'rendezvous_cluster_bytes_total{node="B",direction="in"}'))! >
            want.length,
          "B did not forward the output over NATS",
        );
      })(),
    ),
});
