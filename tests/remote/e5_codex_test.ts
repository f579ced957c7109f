/**
 * The real Codex CLI (npm `@openai/codex@0.169.0`) as an E5 Noise harness, driven by our mock
 * Responses-API model: one agent turn whose command runs on the environment's executor (ours
 * or upstream's), through our rendezvous; and a turn that survives a cut harness socket.
 */
import assert from "node:assert/strict";
import { within } from "../relay/_helpers.ts";
import { assistantMessage, functionCall, MockModel, toolOutputs } from "../_mock_model.ts";
import { startRendezvousProcess } from "./_chain.ts";
import { startTcpProxy } from "../_tcp_proxy.ts";
import { startExecutor, UPSTREAM } from "./_e5.ts";

const TOKEN = "e5-codex-token-0123456789";
const haveUpstream = "binary" in UPSTREAM;

interface Turn {
  command: string;
  tty?: boolean;
}

/** One `codex exec` turn: the model runs `turn.command` with `exec_command`, then finishes. */
async function codexTurn(
  registry: string,
  environmentId: string,
  turn: Turn,
  during?: (model: MockModel) => Promise<void>,
) {
  if (!("binary" in UPSTREAM)) throw new Error(UPSTREAM.skipped);
  await using model = MockModel.start({
    responses: [
      [functionCall("exec_command", {
        cmd: turn.command,
        yield_time_ms: 10_000,
        ...(turn.tty ? { tty: true } : {}),
      }, "call_e5")],
      [assistantMessage("MOCK-DONE")],
    ],
  });
  const home = await Deno.makeTempDir({ prefix: "codex-harness-home-" });
  const work = await Deno.makeTempDir({ prefix: "codex-work-" });
  await Deno.writeTextFile(`${home}/config.toml`, model.codexConfig());
  try {
    const child = new Deno.Command(UPSTREAM.binary, {
      args: [
        "exec",
        "--skip-git-repo-check",
        "--dangerously-bypass-approvals-and-sandbox",
        "run the command",
      ],
      cwd: work,
      env: {
        CODEX_HOME: home,
        RUST_LOG: "warn",
        CODEX_EXEC_SERVER_NOISE_REGISTRY_URL: registry,
        CODEX_EXEC_SERVER_NOISE_ENVIRONMENT_ID: environmentId,
        CODEX_EXEC_SERVER_NOISE_AUTH_TOKEN: TOKEN,
      },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const output = child.output();
    if (during) await during(model);
    const result = await within(90_000, "codex exec turn", output);
    return {
      code: result.code,
      stdout: new TextDecoder().decode(result.stdout),
      stderr: new TextDecoder().decode(result.stderr),
      toolOutputs: model.requests.map((r) => toolOutputs(r.body)["call_e5"]).filter((o) =>
        o !== undefined
      ),
    };
  } finally {
    await Deno.remove(home, { recursive: true }).catch(() => {});
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
}

const MARKED = "echo MARK=$E5_MARK; tty >/dev/null && echo TTY-YES || echo TTY-NO; seq 1 3";

for (const kind of ["ours", "upstream"] as const) {
  for (const tty of [false, true]) {
    Deno.test({
      timeout: 120_000,
      name:
        `e5: real Codex CLI -> our rendezvous -> ${kind} executor: a turn's command runs there (${
          tty ? "PTY" : "pipes"
        })`,
      ignore: !haveUpstream,
      async fn() {
        await using rendezvous = await startRendezvousProcess({ token: TOKEN });
        const env = `env-codex-${kind}-${tty ? "pty" : "pipe"}`;
        await using _executor = await startExecutor(kind, rendezvous.firstLine, env, {
          token: TOKEN,
          env: { E5_MARK: `executor-${kind}` },
        });
        const result = await codexTurn(rendezvous.firstLine, env, { command: MARKED, tty });
        assert.equal(result.code, 0, result.stderr.slice(-3000));
        assert.equal(result.toolOutputs.length, 1, result.stderr.slice(-3000));
        const output = result.toolOutputs[0].replaceAll("\r\n", "\n");
        assert.match(output, /Process exited with code 0/);
        assert.ok(
          output.includes(`MARK=executor-${kind}\n${tty ? "TTY-YES" : "TTY-NO"}\n1\n2\n3\n`),
          output,
        );
        assert.match(result.stdout, /MOCK-DONE/);
      },
    });
  }
}

Deno.test({
  timeout: 120_000,
  name:
    "e5: the harness socket is cut mid-command; Codex resumes and the turn gets the whole output",
  ignore: !haveUpstream,
  async fn() {
    await using rendezvous = await startRendezvousProcess({ token: TOKEN });
    await using executor = await startExecutor("ours", rendezvous.firstLine, "env-cut", {
      token: TOKEN,
    });
    // Codex reaches the registry through the proxy, so the harness URLs it gets point there too.
    await using proxy = startTcpProxy(Number(new URL(rendezvous.firstLine).port));
    const registry = `http://127.0.0.1:${proxy.port}`;
    let acceptedAtCut = 0;
    const result = await codexTurn(
      registry,
      "env-cut",
      { command: "echo BEFORE-CUT; sleep 3; echo AFTER-CUT" },
      async (model) => {
        await within(
          30_000,
          "the model's first request",
          (async () => {
            while (model.requests.length === 0) await new Promise((r) => setTimeout(r, 20));
          })(),
        );
        await executor.waitForStderr("new Noise session stream", 20_000);
        await new Promise((r) => setTimeout(r, 1500));
        acceptedAtCut = proxy.accepted;
        proxy.cut();
      },
    );
    assert.equal(result.code, 0, result.stderr.slice(-3000));
    assert.ok(proxy.accepted > acceptedAtCut, "Codex reconnected after the cut");
    assert.match(executor.stderr(), /harness_disconnected/);
    const output = result.toolOutputs.join("\n");
    assert.match(output, /BEFORE-CUT\nAFTER-CUT\n/);
    assert.match(output, /Process exited with code 0/);
  },
});
