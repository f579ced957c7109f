/**
 * Records `golden/harness_vs_upstream.json`: our Noise harness (recording its randomness)
 * talks through our rendezvous to the real upstream executor (npm `@openai/codex@0.169.0`),
 * and every relay frame both ways is kept with the keys and encapsulations used, so
 * `golden_test.ts` can replay the session byte for byte without upstream.
 *
 * Run: `deno run -A tests/noise/_record_golden.ts` (needs `bench/upstream/`, see scripts/bench.ts).
 * @module
 */
import { findUpstream } from "../../scripts/_bench_servers.ts";
import {
  exportHybridSecret,
  generateHybridKeyPair,
  type HandshakeEntropy,
  publicKeyToJson,
  webCryptoEntropy,
} from "../../lib/noise/mod.ts";
import { startRendezvous } from "../../lib/rendezvous/mod.ts";
import { connectEnvironment } from "../../lib/registry/environment_client.ts";
import { connectWsLink } from "../../lib/relay/ws_link.ts";
import { openNoiseHarnessStream } from "../../lib/relay/noise_harness.ts";

const found = await findUpstream({ install: true });
if (!("binary" in found)) throw new Error(found.skipped);
const server = await startRendezvous({ hostname: "127.0.0.1", port: 0, token: "golden-token" });
const home = await Deno.makeTempDir();
const executor = new Deno.Command(found.binary, {
  args: [
    "exec-server",
    "--remote",
    server.url,
    "--environment-id",
    "env-golden",
    "--registration-bearer-stdin",
  ],
  env: { CODEX_HOME: home, RUST_LOG: "warn" },
  stdin: "piped",
}).spawn();
const writer = executor.stdin.getWriter();
await writer.write(new TextEncoder().encode("golden-token\n"));
await writer.close();

const harness = await generateHybridKeyPair({ extractable: true });
const ephemerals: { x25519: string; mlkemSeed: string }[] = [];
const encapsulations: { ciphertext: string; sharedSecret: string }[] = [];
const entropy: HandshakeEntropy = {
  async ephemeral() {
    const pair = await generateHybridKeyPair({ extractable: true });
    const secret = await exportHybridSecret(pair);
    ephemerals.push({ x25519: secret.x25519.toHex(), mlkemSeed: secret.mlkemSeed.toHex() });
    return pair;
  },
  async encapsulate(publicKey) {
    const result = await webCryptoEntropy.encapsulate(publicKey);
    encapsulations.push({
      ciphertext: result.ciphertext.toHex(),
      sharedSecret: result.sharedSecret.toHex(),
    });
    return result;
  },
};
let bundle;
for (let attempt = 0; !bundle; attempt++) {
  try {
    bundle = await connectEnvironment({
      registry: server.url,
      environmentId: "env-golden",
      harnessKey: harness.public,
      token: "golden-token",
    });
  } catch (error) {
    if (attempt > 100) throw error;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
const outcome = await connectWsLink(bundle.url);
if (outcome.kind !== "open") throw new Error(`cannot connect: ${JSON.stringify(outcome)}`);
const frames: { direction: "out" | "in"; hex: string }[] = [];
const streamId = crypto.randomUUID();
const stream = await openNoiseHarnessStream(outcome.link, {
  bundle,
  harnessKey: harness,
  streamId,
  entropy,
  tap: (direction, frame) => frames.push({ direction, hex: frame.toHex() }),
});
const messages: { direction: "out" | "in"; json: string }[] = [];
const inbound = stream.receive()[Symbol.asyncIterator]();
async function call(message: Record<string, unknown>): Promise<void> {
  const text = JSON.stringify(message);
  messages.push({ direction: "out", json: text });
  await stream.send(text);
  if (!("id" in message)) return;
  const { value } = await inbound.next();
  messages.push({ direction: "in", json: new TextDecoder().decode(value as Uint8Array) });
}
await call({
  id: 1,
  method: "initialize",
  params: { clientName: "golden", resumeSessionId: null },
});
await call({ method: "initialized", params: {} });
// 70 KiB spans two records on the way out; the answer is one record back.
await call({ id: 2, method: "fs/getMetadata", params: { path: `file:///${"x".repeat(70_000)}` } });
stream.close();
executor.kill();
await executor.status;
await server.shutdown();
await Deno.remove(home, { recursive: true });

const secret = await exportHybridSecret(harness);
const golden = {
  note:
    "Recorded by tests/noise/_record_golden.ts: our harness <-> our rendezvous <-> upstream codex 0.169.0 exec-server. Relay frames as sent/received; keys and encapsulations of the harness side.",
  environmentId: "env-golden",
  registrationId: bundle.registrationId,
  streamId,
  authorization: bundle.authorization,
  executorPublicKey: publicKeyToJson(bundle.executorKey),
  harnessStatic: { x25519: secret.x25519.toHex(), mlkemSeed: secret.mlkemSeed.toHex() },
  ephemerals,
  encapsulations,
  frames,
  messages,
};
const path = new URL("./golden/harness_vs_upstream.json", import.meta.url);
await Deno.writeTextFile(path, JSON.stringify(golden, null, 1) + "\n");
console.log(`wrote ${path.pathname}: ${frames.length} frames, ${messages.length} messages`);
