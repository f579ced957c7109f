/**
 * `environmentConfig/read` through a real websocket: system + user layers projected to the
 * requested key paths, requirements from the system folder, and upstream's error texts.
 */
import assert from "node:assert/strict";
import { parse } from "smol-toml";
import { startServer, TestClient } from "../_harness.ts";
import { assertRpcError, openSession, uri } from "../fs/_session.ts";

const USER_TOML = `# comment
model = "usermodel"

[mcp_servers.b]
url = "http://127.0.0.1:1/mcp"   # trailing
bearer_token_env_var = "TOK"
http_headers = { "X-A" = "1", b = "two" }
enabled_tools = ["a", "b"]
startup_timeout_sec = 10.5
n = 3

[mcp_servers.a]
command = "npx"
args = ["-y", "x"]
[mcp_servers.a.env]
FOO = "bar"

[profiles.x]
model = "m"
`;

// What upstream 0.169.0 answered for USER_TOML and `configPaths: [["mcp_servers"]]`.
const UPSTREAM_MCP_PROJECTION = '[mcp_servers.b]\nurl = "http://127.0.0.1:1/mcp"\n' +
  'bearer_token_env_var = "TOK"\nenabled_tools = ["a", "b"]\nstartup_timeout_sec = 10.5\nn = 3\n\n' +
  '[mcp_servers.b.http_headers]\nX-A = "1"\nb = "two"\n\n[mcp_servers.a]\ncommand = "npx"\n' +
  'args = ["-y", "x"]\n\n[mcp_servers.a.env]\nFOO = "bar"\n';

async function homes() {
  const root = await Deno.realPath(await Deno.makeTempDir({ prefix: "config_test_" }));
  const home = `${root}/home`;
  const system = `${root}/etc-codex`;
  await Deno.mkdir(home);
  await Deno.mkdir(system);
  return {
    root,
    home,
    system,
    env: { CODEX_HOME: home, CODEX_EXEC_SERVER_SYSTEM_CONFIG_DIR: system },
    async [Symbol.asyncDispose]() {
      await Deno.remove(root, { recursive: true });
    },
  };
}

Deno.test({
  name: "environmentConfig/read projects the user layer like upstream",
  timeout: 15_000,
}, async () => {
  await using dirs = await homes();
  await Deno.writeTextFile(`${dirs.home}/config.toml`, USER_TOML);
  await using s = await openSession({ env: dirs.env });
  const info = await s.client.call("environment/info");
  assert.equal((info.capabilities as Record<string, boolean>).environmentConfigRead, true);
  const result = await s.client.call("environmentConfig/read", {
    cwd: uri(s.dir),
    configPaths: [["mcp_servers"]],
    requirementsPaths: [["mcp_servers"]],
  });
  assert.deepEqual(result, {
    userHomeDir: uri(Deno.env.get("HOME")!),
    codexHomeDir: uri(dirs.home),
    hostname: Deno.hostname(),
    config: {
      layers: [{
        source: `user (${dirs.home}/config.toml)`,
        baseDir: uri(dirs.home),
        toml: UPSTREAM_MCP_PROJECTION,
      }],
      cloudInsertionIndex: 0,
    },
    requirements: { layers: [], cloudInsertionIndex: 0 },
  });
  // Several paths come back in file order; a path through a plain value keeps that value.
  const two = await s.client.call("environmentConfig/read", {
    cwd: uri(s.dir),
    configPaths: [["profiles"], ["model", "x"], ["mcp_servers", "b", "http_headers"]],
    requirementsPaths: [],
  });
  const [layer] = (two.config as { layers: { toml: string }[] }).layers;
  assert.equal(
    layer.toml,
    'model = "usermodel"\n\n[mcp_servers.b.http_headers]\nX-A = "1"\nb = "two"\n\n' +
      '[profiles.x]\nmodel = "m"\n',
  );
  const none = await s.client.call("environmentConfig/read", {
    cwd: uri(s.dir),
    configPaths: [["nope"], ["mcp_servers", "zzz"]],
    requirementsPaths: [],
  });
  assert.deepEqual(none.config, { layers: [], cloudInsertionIndex: 0 });
});

Deno.test({
  name: "environmentConfig/read: system layers first, requirements from the system folder",
  timeout: 15_000,
}, async () => {
  await using dirs = await homes();
  await Deno.writeTextFile(
    `${dirs.system}/config.toml`,
    'model = "systemmodel"\n\n[mcp_servers.sysmcp]\nurl = "http://127.0.0.1:1/mcp"\n',
  );
  await Deno.writeTextFile(
    `${dirs.system}/requirements.toml`,
    'allowed_sandbox_modes = ["read-only", "workspace-write"]\n',
  );
  await Deno.writeTextFile(`${dirs.home}/config.toml`, 'model = "usermodel"\n');
  // Only the system requirements file counts, never $CODEX_HOME/requirements.toml.
  await Deno.writeTextFile(`${dirs.home}/requirements.toml`, "allowed_sandbox_modes = []\n");
  await using s = await openSession({ env: dirs.env });
  const result = await s.client.call("environmentConfig/read", {
    cwd: uri(s.dir),
    configPaths: [["model"], ["mcp_servers"]],
    requirementsPaths: [["allowed_sandbox_modes"]],
  });
  assert.deepEqual(result.config, {
    layers: [
      {
        source: `system (${dirs.system}/config.toml)`,
        baseDir: uri(dirs.system),
        toml: 'model = "systemmodel"\n\n[mcp_servers.sysmcp]\nurl = "http://127.0.0.1:1/mcp"\n',
      },
      {
        source: `user (${dirs.home}/config.toml)`,
        baseDir: uri(dirs.home),
        toml: 'model = "usermodel"\n',
      },
    ],
    cloudInsertionIndex: 1,
  });
  assert.deepEqual(result.requirements, {
    layers: [{
      source: `${dirs.system}/requirements.toml`,
      baseDir: uri(dirs.system),
      toml: 'allowed_sandbox_modes = ["read-only", "workspace-write"]\n',
    }],
    cloudInsertionIndex: 1,
  });
  // A system layer without the requested keys is left out and not counted.
  const userOnly = await s.client.call("environmentConfig/read", {
    cwd: uri(s.dir),
    configPaths: [["model"]],
    requirementsPaths: [],
  });
  assert.equal((userOnly.config as { layers: unknown[] }).layers.length, 2);
  const mcpOnly = await s.client.call("environmentConfig/read", {
    cwd: "file:///does/not/exist",
    configPaths: [["mcp_servers", "sysmcp"]],
    requirementsPaths: [],
  });
  assert.equal((mcpOnly.config as { cloudInsertionIndex: number }).cloudInsertionIndex, 1);
});

Deno.test({
  name: "environmentConfig/read keeps value types through the projection",
  timeout: 15_000,
}, async () => {
  await using dirs = await homes();
  const source = `s = 'lit "q" \\n'\nml = """a\nb"""\ndt = 1979-05-27T07:32:00Z\n` +
    `big = 9007199254740993\nf = 1e100\nten = 10.0\ndotted.a.b = 1\nmixed = [1, "x", {a = 1}]\n` +
    `[[arr]]\nn = 1\n[[arr]]\nn = 2\n[arr.sub]\nk = "v"\n[emptyt]\n`;
  await Deno.writeTextFile(`${dirs.home}/config.toml`, source);
  await using s = await openSession({ env: dirs.env });
  const result = await s.client.call("environmentConfig/read", {
    cwd: uri(s.dir),
    configPaths: [["s"], ["ml"], ["dt"], ["big"], ["f"], ["ten"], ["dotted"], ["mixed"], ["arr"], [
      "emptyt",
    ]],
    requirementsPaths: [],
  });
  const [layer] = (result.config as { layers: { toml: string }[] }).layers;
  // Upstream's text for the same file (ten = 10.0 added).
  assert.equal(
    layer.toml,
    `s = 'lit "q" \\n'\nml = """\na\nb"""\ndt = 1979-05-27T07:32:00Z\nbig = 9007199254740993\n` +
      `f = 1${
        "0".repeat(100)
      }.0\nten = 10.0\nmixed = [1, "x", { a = 1 }]\n\n[dotted.a]\nb = 1\n\n` +
      `[[arr]]\nn = 1\n\n[[arr]]\nn = 2\n\n[arr.sub]\nk = "v"\n\n[emptyt]\n`,
  );
  const reparsed = parse(layer.toml, { integersAsBigInt: true });
  assert.equal(reparsed.big, 9007199254740993n);
  assert.equal(reparsed.ten, 10);
});

Deno.test({
  name: "environmentConfig/read errors are upstream's",
  timeout: 15_000,
}, async () => {
  await using dirs = await homes();
  await using s = await openSession({ env: dirs.env });
  const read = (params: unknown) => s.client.call("environmentConfig/read", params);
  const cwd = uri(s.dir);
  await assertRpcError(
    read({ cwd, configPaths: [], requirementsPaths: [] }),
    -32602,
    "at least one config or requirements path is required",
  );
  await assertRpcError(
    read({ cwd, configPaths: [[]], requirementsPaths: [] }),
    -32602,
    "TOML paths must contain at least one key segment",
  );
  await assertRpcError(
    read({ cwd: "tmp", configPaths: [["a"]], requirementsPaths: [] }),
    -32602,
    "invalid URI: relative URL without a base",
  );
  await assertRpcError(
    read({ cwd, configPaths: [["a"]] }),
    -32602,
    /missing field `requirementsPaths`/,
  );
  await assertRpcError(
    read({ configPaths: [["a"]], requirementsPaths: [] }),
    -32602,
    /missing field `cwd`/,
  );
  await Deno.writeTextFile(`${dirs.home}/config.toml`, "a = = 1\n");
  await assertRpcError(
    read({ cwd, configPaths: [["a"]], requirementsPaths: [] }),
    -32603,
    `failed to load executor-local config: ${dirs.home}/config.toml:1:5: invalid value`,
  );
  // No config files at all: empty stacks.
  await Deno.remove(`${dirs.home}/config.toml`);
  const empty = await read({ cwd, configPaths: [["a"]], requirementsPaths: [["b"]] });
  assert.deepEqual([empty.config, empty.requirements], [
    { layers: [], cloudInsertionIndex: 0 },
    { layers: [], cloudInsertionIndex: 0 },
  ]);
});

Deno.test({
  name: "environmentConfig/read is gated by the handshake",
  timeout: 15_000,
}, async () => {
  await using server = await startServer();
  await using client = await TestClient.connect(server.url);
  const params = { cwd: "file:///tmp", configPaths: [["a"]], requirementsPaths: [] };
  await assertRpcError(
    client.call("environmentConfig/read", params),
    -32600,
    "client must call initialize before using environment config methods",
  );
  await client.call("initialize", { clientName: "t" });
  await assertRpcError(
    client.call("environmentConfig/read", params),
    -32600,
    "client must send initialized before using environment config methods",
  );
});
