/**
 * The real Codex CLI 0.169.0 against our `serve`: an HTTP MCP server configured only in the
 * **executor's** `CODEX_HOME/config.toml` reaches the model. Codex reads it through
 * `environmentConfig/read`, speaks MCP through our `http/request` (its bearer token taken from
 * the executor's environment with `valueEnvVar`), and offers the server's tool in the model
 * request. Without those two capabilities the namespace is missing. (A model with tool search,
 * e.g. gpt-5.5, gets MCP tools deferred behind `tool_search` instead, hence `mock-model`.)
 */
import assert from "node:assert/strict";
import { startServer } from "../_harness.ts";
import { assistantMessage, MockModel } from "../_mock_model.ts";
import { findUpstream } from "../../scripts/_bench_servers.ts";

const TURN_DEADLINE_MS = 90_000;

/** A minimal Streamable-HTTP MCP server with one tool; records the authorization it saw. */
function mcpServer() {
  const authorizations: string[] = [];
  const methods: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    authorizations.push(request.headers.get("authorization") ?? "");
    if (request.method !== "POST") return new Response(null, { status: 405 });
    const message = await request.json() as { id?: number; method: string };
    methods.push(message.method);
    if (message.id === undefined) return new Response(null, { status: 202 });
    const result = message.method === "initialize"
      ? {
        protocolVersion: "2025-06-18",
        capabilities: { tools: {} },
        serverInfo: { name: "gap-test", version: "1.0.0" },
      }
      : message.method === "tools/list"
      ? {
        tools: [{
          name: "hping",
          description: "replies pong",
          inputSchema: { type: "object", properties: {} },
        }],
      }
      : {};
    return Response.json({ jsonrpc: "2.0", id: message.id, result });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/mcp`,
    authorizations,
    methods,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
    },
  };
}

Deno.test({
  name: "codex e2e: an MCP server in the executor's config reaches the model",
  timeout: 120_000,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const found = await findUpstream({ install: true });
    if (!("binary" in found)) throw new Error(`the Codex CLI is needed: ${found.skipped}`);
    const base = await Deno.realPath(
      await Deno.makeTempDir({ dir: "/var/tmp", prefix: "mcp-e2e-" }),
    );
    const clientHome = `${base}/client-home`;
    const serverHome = `${base}/server-home`;
    const ws = `${base}/work`;
    for (const dir of [clientHome, serverHome, ws]) await Deno.mkdir(dir);
    await using mcp = mcpServer();
    await Deno.writeTextFile(
      `${serverHome}/config.toml`,
      `[mcp_servers.gaphttp]\nurl = ${JSON.stringify(mcp.url)}\n` +
        `bearer_token_env_var = "GAP_MCP_TOKEN"\n`,
    );
    await using server = await startServer({
      env: { CODEX_HOME: serverHome, GAP_MCP_TOKEN: "server-side-secret" },
    });
    await using model = MockModel.start({ responses: [[assistantMessage("done")]] });
    await Deno.writeTextFile(
      `${clientHome}/config.toml`,
      model.codexConfig({ model: "mock-model" }),
    );
    try {
      const codex = new Deno.Command(found.binary, {
        args: ["exec", "--skip-git-repo-check", "list your tools"],
        cwd: ws,
        env: { CODEX_HOME: clientHome, CODEX_EXEC_SERVER_URL: server.url, RUST_LOG: "error" },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const timer = setTimeout(() => codex.kill("SIGKILL"), TURN_DEADLINE_MS);
      const out = await codex.output();
      clearTimeout(timer);
      const log = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 0, `codex exec failed:\n${log.slice(-3000)}`);
      assert.ok(model.requests.length >= 1, `no model request:\n${log.slice(-3000)}`);
      const tools = model.requests[0].body.tools as Record<string, unknown>[];
      const namespace = tools.find((tool) => tool.name === "mcp__gaphttp") as
        | { type: string; tools: { name: string }[] }
        | undefined;
      assert.ok(
        namespace,
        `the model request lacks mcp__gaphttp: ${tools.map((t) => t.name).join(", ")}\n` +
          log.slice(-2000) +
          `\nmcp: ${mcp.methods.join(",")}\nserver: ${server.stderr().slice(-3000)}`,
      );
      assert.equal(namespace.type, "namespace");
      assert.deepEqual(namespace.tools.map((tool) => tool.name), ["hping"]);
      // MCP went through our http/request with the executor's secret.
      assert.ok(mcp.methods.includes("tools/list"), mcp.methods.join(","));
      assert.ok(mcp.authorizations.includes("Bearer server-side-secret"));
    } finally {
      await Deno.remove(base, { recursive: true }).catch(() => {});
    }
  },
});
