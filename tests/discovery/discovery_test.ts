/**
 * `capabilities/discoverV2` and `capabilityRoots/discoverV1` through a real websocket, against
 * fixtures whose upstream 0.169.0 answers are copied below.
 */
import assert from "node:assert/strict";
import { startServer, TestClient } from "../_harness.ts";
import { assertRpcError, openSession, uri } from "../fs/_session.ts";

async function write(path: string, text: string): Promise<void> {
  await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
  await Deno.writeTextFile(path, text);
}

async function fixture() {
  const root = await Deno.realPath(await Deno.makeTempDir({ prefix: "discovery_test_" }));
  const home = `${root}/home`;
  const skills = `${home}/skills`;
  await write(
    `${skills}/homeskill/SKILL.md`,
    "---\nname: homeskill\ndescription: from codex home\n---\nBody here\n",
  );
  await write(
    `${skills}/homeskill/agents/openai.yaml`,
    "interface:\n  display_name: Home\n  short_description: sd\ndependencies:\n  tools:\n" +
      "    - type: mcp\n      value: x\npolicy:\n  allow_implicit_invocation: false\n",
  );
  await write(
    `${skills}/homeskill/sub/z/SKILL.md`,
    "---\nname: z\ndescription: nested in a skill\n---\n",
  );
  await write(`${skills}/.hidden/x/SKILL.md`, "---\nname: hid\ndescription: hidden\n---\n");
  await write(
    `${skills}/nested/deep/inner/SKILL.md`,
    "---\nname: inner\ndescription: deep one\nmetadata:\n  short-description: short d\n---\n",
  );
  await write(
    `${skills}/quoted/SKILL.md`,
    '---\nname: "quoted: name"\ndescription: >\n  folded\n  text\nextra: 1\n---\n',
  );
  const plug = `${root}/plug`;
  await write(`${plug}/p1/.codex-plugin/plugin.json`, '{"name":"p1","version":"1.0.0"}\n');
  await write(`${plug}/p1/.mcp.json`, '{"mcpServers":{}}\n');
  await write(`${plug}/p1/.app.json`, '{"apps":{}}\n');
  await write(`${plug}/p1/skills/s1/SKILL.md`, "---\nname: s1\ndescription: one\n---\nbody\n");
  await write(`${plug}/p2/skills/s2/SKILL.md`, "---\nname: s2\ndescription: two\n---\n");
  await write(`${plug}/p2/skills/s2/agents/openai.yaml`, "interface:\n  display_name: S\n");
  await write(`${plug}/c/.claude-plugin/plugin.json`, '{"name":"c"}\n');
  await write(`${plug}/file.txt`, "hi\n");
  return {
    root,
    home,
    skills,
    plug,
    async [Symbol.asyncDispose]() {
      await Deno.remove(root, { recursive: true });
    },
  };
}

Deno.test({
  name: "capabilities/discoverV2 lists $CODEX_HOME/skills like upstream",
  timeout: 30_000,
}, async () => {
  await using f = await fixture();
  await using s = await openSession({ env: { CODEX_HOME: f.home } });
  const info = await s.client.call("environment/info");
  assert.equal((info.capabilities as Record<string, boolean>).capabilityDiscoveryV2, true);
  const discoveryRoot = { id: "codex-home-skills", path: uri(f.skills) };
  const skill = (name: string, description: string, path: string, extra = {}) => ({
    name,
    description,
    shortDescription: null,
    path: uri(`${f.skills}/${path}`),
    discoveryRoot,
    dependencies: null,
    policy: null,
    ...extra,
  });
  const expected = {
    plugins: [],
    skills: [
      skill("hid", "hidden", ".hidden/x/SKILL.md"),
      skill("homeskill", "from codex home", "homeskill/SKILL.md", {
        dependencies: {
          tools: [{
            type: "mcp",
            value: "x",
            description: null,
            transport: null,
            command: null,
            url: null,
            oauthCallbackPort: null,
          }],
        },
        policy: { allowImplicitInvocation: false, products: [] },
      }),
      skill("z", "nested in a skill", "homeskill/sub/z/SKILL.md"),
      skill("inner", "deep one", "nested/deep/inner/SKILL.md", { shortDescription: "short d" }),
      skill("quoted: name", "folded text", "quoted/SKILL.md"),
    ],
    warnings: [],
  };
  assert.deepEqual(
    await s.client.call("capabilities/discoverV2", { cwd: uri(s.dir), sandbox: null }),
    expected,
  );
  // A SKILL.md without front matter is left out with upstream's one warning.
  await write(`${f.skills}/broken/SKILL.md`, "no front matter\n");
  const withBroken = await s.client.call("capabilities/discoverV2", { cwd: uri(s.dir) });
  assert.deepEqual(withBroken.skills, expected.skills);
  assert.deepEqual(withBroken.warnings, [
    "some capability metadata could not be loaded; discovery may be incomplete",
  ]);
  await assertRpcError(s.client.call("capabilities/discoverV2", {}), -32602, "missing field `cwd`");
  await assertRpcError(
    s.client.call("capabilities/discoverV2", { cwd: "x" }),
    -32602,
    "invalid URI: relative URL without a base",
  );
});

Deno.test({
  name: "capabilities/discoverV2 with no skills folder is empty",
  timeout: 30_000,
}, async () => {
  const home = await Deno.makeTempDir();
  await using s = await openSession({ env: { CODEX_HOME: home } });
  assert.deepEqual(await s.client.call("capabilities/discoverV2", { cwd: uri(s.dir) }), {
    plugins: [],
    skills: [],
    warnings: [],
  });
  await Deno.remove(home, { recursive: true });
});

Deno.test({
  name: "capabilityRoots/discoverV1 inspects each root like upstream",
  timeout: 30_000,
}, async () => {
  await using f = await fixture();
  await using s = await openSession();
  const file = (path: string, contents: string) => ({ path: uri(`${f.plug}/${path}`), contents });
  const s1 = {
    instructions: file("p1/skills/s1/SKILL.md", "---\nname: s1\ndescription: one\n---\nbody\n"),
    metadata: null,
  };
  const s2 = {
    instructions: file("p2/skills/s2/SKILL.md", "---\nname: s2\ndescription: two\n---\n"),
    metadata: file("p2/skills/s2/agents/openai.yaml", "interface:\n  display_name: S\n"),
  };
  const p1Manifest = file("p1/.codex-plugin/plugin.json", '{"name":"p1","version":"1.0.0"}\n');
  const cManifest = file("c/.claude-plugin/plugin.json", '{"name":"c"}\n');
  const result = await s.client.call("capabilityRoots/discoverV1", {
    roots: [
      { id: "r1", path: uri(`${f.plug}/p1`) },
      { id: "r2", path: uri(`${f.plug}/p2`) },
      { id: "r3", path: uri(`${f.plug}/nope`) },
      { id: "r4", path: uri(`${f.plug}/file.txt`) },
      { id: "r5", path: uri(`${f.plug}/c`) },
      { id: "r6", path: uri(f.plug) },
    ],
  });
  const none = { plugin: null, skills: [], namespaceManifests: [], warnings: [] };
  assert.deepEqual(result, {
    roots: [
      {
        id: "r1",
        path: uri(`${f.plug}/p1`),
        plugin: {
          manifest: p1Manifest,
          mcpConfig: file("p1/.mcp.json", '{"mcpServers":{}}\n'),
          appsConfig: file("p1/.app.json", '{"apps":{}}\n'),
        },
        skills: [s1],
        namespaceManifests: [p1Manifest],
        warnings: [],
        error: null,
      },
      { id: "r2", path: uri(`${f.plug}/p2`), ...none, skills: [s2], error: null },
      {
        id: "r3",
        path: uri(`${f.plug}/nope`),
        ...none,
        error: `failed to inspect capability root ${
          uri(`${f.plug}/nope`)
        }: No such file or directory (os error 2)`,
      },
      {
        id: "r4",
        path: uri(`${f.plug}/file.txt`),
        ...none,
        error: `capability root ${uri(`${f.plug}/file.txt`)} is not a directory`,
      },
      {
        id: "r5",
        path: uri(`${f.plug}/c`),
        ...none,
        plugin: { manifest: cManifest, mcpConfig: null, appsConfig: null },
        namespaceManifests: [cManifest],
        error: null,
      },
      {
        id: "r6",
        path: uri(f.plug),
        ...none,
        skills: [s1, s2],
        namespaceManifests: [cManifest, p1Manifest],
        error: null,
      },
    ],
  });
  assert.deepEqual(await s.client.call("capabilityRoots/discoverV1", { roots: [] }), { roots: [] });
  await assertRpcError(
    s.client.call("capabilityRoots/discoverV1", { roots: [{ path: "file:///x" }] }),
    -32602,
    /^missing field `id`/,
  );
  await assertRpcError(
    s.client.call("capabilityRoots/discoverV1", {}),
    -32602,
    "missing field `roots`",
  );
});

Deno.test({
  name: "capabilityRoots/discoverV1 survives a symlink loop",
  timeout: 30_000,
}, async () => {
  await using f = await fixture();
  await Deno.symlink(f.plug, `${f.plug}/p1/loop`);
  await using s = await openSession();
  const result = await s.client.call("capabilityRoots/discoverV1", {
    roots: [{ id: "r", path: uri(`${f.plug}/p1`) }],
  });
  const [root] = result.roots as { skills: unknown[]; error: null }[];
  assert.equal(root.error, null);
  assert.ok(root.skills.length >= 1);
});

Deno.test({
  name: "discovery methods are gated by the handshake",
  timeout: 30_000,
}, async () => {
  await using server = await startServer();
  await using client = await TestClient.connect(server.url);
  await assertRpcError(
    client.call("capabilities/discoverV2", { cwd: "file:///tmp" }),
    -32600,
    "client must call initialize before using capability discovery methods",
  );
  await client.call("initialize", { clientName: "t" });
  await assertRpcError(
    client.call("capabilityRoots/discoverV1", { roots: [] }),
    -32600,
    "client must send initialized before using capability discovery methods",
  );
});
