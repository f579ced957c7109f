/**
 * The NATS link of `rendezvous --cluster` with credentials and TLS: a real nats-server that
 * requires a user/password, or a token over TLS with a certificate from a CA made here
 * (openssl). Nodes with the right files join and route; a wrong secret, no secret or no CA is
 * refused at start-up with a message naming the cause; secrets never appear in argv.
 */
import assert from "node:assert/strict";
import { runCli } from "../cli/_cli.ts";
import { spawnChild } from "../remote/_chain.ts";
import { startRemoteProcess } from "../remote/_chain.ts";
import { within } from "../relay/_helpers.ts";
import { startNode, waitForStatus } from "./_cluster.ts";
import { NO_NATS, startNats } from "./_nats.ts";

const TOKEN = "cluster-auth-token";
const NO_OPENSSL = (() => {
  try {
    return !Deno.statSync("/usr/bin/openssl").isFile;
  } catch {
    return true;
  }
})();

async function secretFile(text: string): Promise<string> {
  const path = await Deno.makeTempFile({ prefix: "nats-secret-" });
  await Deno.writeTextFile(path, text + "\n");
  return path;
}

/** A node that must fail to join: exit code 2 and the error line. */
async function refusedNode(nats: string, args: string[]): Promise<string> {
  await using node = await spawnChild([
    "rendezvous",
    "--cluster",
    nats,
    "--node-id",
    "X",
    "--listen",
    "http://127.0.0.1:0",
    ...args,
  ]);
  const status = await within(30_000, "refused node exits", node.exited());
  assert.equal(status.code, 2, node.stderr());
  return node.stderr();
}

async function openssl(dir: string, ...args: string[]): Promise<void> {
  const out = await new Deno.Command("openssl", { args, cwd: dir, stdout: "null", stderr: "piped" })
    .output();
  if (!out.success) throw new Error(`openssl ${args[0]}: ${new TextDecoder().decode(out.stderr)}`);
}

/** A CA and a server certificate for 127.0.0.1 signed by it. */
async function makeCertificates(): Promise<{ dir: string; ca: string; cert: string; key: string }> {
  const dir = await Deno.makeTempDir({ prefix: "nats-tls-" });
  await openssl(
    dir,
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
    "-days",
    "1",
    "-subj",
    "/CN=test nats CA",
  );
  await openssl(
    dir,
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "server.key",
    "-out",
    "server.csr",
    "-subj",
    "/CN=127.0.0.1",
  );
  await Deno.writeTextFile(`${dir}/san.ext`, "subjectAltName=IP:127.0.0.1\n");
  await openssl(
    dir,
    "x509",
    "-req",
    "-in",
    "server.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "server.pem",
    "-days",
    "1",
    "-extfile",
    "san.ext",
  );
  return { dir, ca: `${dir}/ca.pem`, cert: `${dir}/server.pem`, key: `${dir}/server.key` };
}

Deno.test({
  timeout: 90_000,
  name:
    "cluster auth: a NATS user/password from a file joins and routes; a wrong or missing password, or one in the URL, is refused",
  ignore: NO_NATS,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    within(
      90_000,
      "cluster auth test",
      (async () => {
        const password = "n@ts pass-" + crypto.randomUUID();
        await using nats = await startNats({
          config: `authorization { user: rdv, password: "${password}" }`,
        });
        const good = await secretFile(password);
        const bad = await secretFile("wrong");
        const creds = ["--cluster-user", "rdv", "--cluster-password-file", good];
        await using a = await startNode(nats.url, "A", { token: TOKEN, args: creds });
        await using b = await startNode(nats.url, "B", {
          token: TOKEN,
          args: [...creds, "--harness-routing", "forward"],
        });
        await waitForStatus(`${b.url}/readyz`, 200);
        assert.ok(!a.stderr().includes(password), "the password was logged");
        // A round trip through both nodes proves KV and subjects work under auth.
        await using _remote = await startRemoteProcess(a.url, "e1", { token: TOKEN });
        const result = await runCli(
          ["exec", "--registry", b.url, "--executor-id", "e1", "--", "echo", "authed"],
          { env: { CODEX_EXEC_SERVER_REMOTE_BEARER_TOKEN: TOKEN } },
        );
        assert.equal(result.stdout, "authed\n", result.stderr);

        const wrong = await refusedNode(nats.url, [
          "--cluster-user",
          "rdv",
          "--cluster-password-file",
          bad,
        ]);
        assert.match(wrong, /cannot join the cluster.*(authorization|auth)/i);
        const none = await refusedNode(nats.url, []);
        assert.match(none, /cannot join the cluster.*(authorization|auth)/i);
        const inUrl = await refusedNode(nats.url.replace("nats://", "nats://rdv:x@"), []);
        assert.match(inUrl, /must not carry credentials/);
        const half = await refusedNode(nats.url, ["--cluster-user", "rdv"]);
        assert.match(half, /--cluster-user and --cluster-password-file go together/);
      })(),
    ),
});

Deno.test({
  timeout: 90_000,
  name:
    "cluster auth: tls:// with --cluster-ca and a token file joins a TLS-only NATS; without the CA, or with a wrong token, it is refused",
  ignore: NO_NATS || NO_OPENSSL,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    within(
      90_000,
      "cluster tls test",
      (async () => {
        const pki = await makeCertificates();
        const token = "tok-" + crypto.randomUUID();
        try {
          await using nats = await startNats({
            config: `authorization { token: "${token}" }\n` +
              `tls { cert_file: "${pki.cert}", key_file: "${pki.key}" }`,
          });
          const tlsUrl = nats.url.replace("nats://", "tls://");
          const tokenFile = await secretFile(token);
          await using a = await startNode(tlsUrl, "A", {
            token: TOKEN,
            args: ["--cluster-token-file", tokenFile, "--cluster-ca", pki.ca],
          });
          await waitForStatus(`${a.url}/readyz`, 200);
          const ready = await (await fetch(`${a.url}/readyz`)).text();
          assert.match(ready, /^ok: NATS/);

          const untrusted = await refusedNode(tlsUrl, ["--cluster-token-file", tokenFile]);
          assert.match(
            untrusted,
            /cannot join the cluster.*(unable to verify|self.signed|issuer)/i,
          );
          const wrongToken = await refusedNode(tlsUrl, [
            "--cluster-token-file",
            await secretFile("nope"),
            "--cluster-ca",
            pki.ca,
          ]);
          assert.match(wrongToken, /cannot join the cluster.*(authorization|auth)/i);
          const missingCa = await refusedNode(tlsUrl, ["--cluster-ca", `${pki.dir}/absent.pem`]);
          assert.match(missingCa, /cannot read .*absent\.pem/);
        } finally {
          await Deno.remove(pki.dir, { recursive: true });
        }
      })(),
    ),
});
