/**
 * Capability discovery on the executor host: `capabilities/discoverV2` scans
 * `$CODEX_HOME/skills`; `capabilityRoots/discoverV1` inspects given roots for a plugin manifest,
 * `.mcp.json`, `.app.json` and skills. Both are bounded walks; files over 1 MiB are skipped.
 * @module
 */
import { uriFromPath } from "../protocol/file_uri.ts";
import type {
  DiscoveredRoot,
  DiscoveredSkill,
  DiscoverV2Result,
  FileContents,
} from "../protocol/discovery.ts";
import { osErrorMessage } from "../util/os_error.ts";
import { comparePaths, isFile, scanTree } from "./_tree.ts";
import { parseSkillAgentsYaml, parseSkillFrontMatter } from "./skills.ts";

/** Largest file discovery reads. */
const MAX_FILE_BYTES = 1024 * 1024;
const MANIFEST_DIRS = [".codex-plugin", ".claude-plugin", ".cursor-plugin"];
const METADATA_WARNING =
  "some capability metadata could not be loaded; discovery may be incomplete";

async function readSmall(path: string): Promise<string | null> {
  try {
    const info = await Deno.stat(path);
    if (!info.isFile || info.size > MAX_FILE_BYTES) return null;
    return await Deno.readTextFile(path);
  } catch {
    return null;
  }
}

async function fileContents(path: string): Promise<FileContents | null> {
  const contents = await readSmall(path);
  return contents === null ? null : { path: uriFromPath(path), contents };
}

async function skillFiles(root: string): Promise<string[]> {
  const { directories } = await scanTree(root);
  const found: string[] = [];
  for (const dir of directories) {
    const path = `${dir}/SKILL.md`;
    if (await isFile(path)) found.push(path);
  }
  return found.sort(comparePaths);
}

async function manifestIn(dir: string): Promise<string | null> {
  for (const name of MANIFEST_DIRS) {
    const path = `${dir}/${name}/plugin.json`;
    if (await isFile(path)) return path;
  }
  return null;
}

/**
 * Skills under `<codexHome>/skills`, sorted by path, with a warning when some could not be read.
 *
 * @example
 * ```ts
 * const { skills } = await discoverV2("/root/.codex");
 * ```
 */
export async function discoverV2(codexHome: string): Promise<DiscoverV2Result> {
  const root = `${codexHome}/skills`;
  const discoveryRoot = { id: "codex-home-skills", path: uriFromPath(root) };
  const skills: DiscoveredSkill[] = [];
  let incomplete = false;
  for (const path of await skillFiles(root)) {
    const text = await readSmall(path);
    const front = text === null ? null : parseSkillFrontMatter(text);
    if (!front) {
      incomplete = true;
      continue;
    }
    const dir = path.slice(0, -"/SKILL.md".length);
    const agents = await readSmall(`${dir}/agents/openai.yaml`);
    const { dependencies, policy } = agents === null
      ? { dependencies: null, policy: null }
      : parseSkillAgentsYaml(agents);
    skills.push({ ...front, path: uriFromPath(path), discoveryRoot, dependencies, policy });
  }
  return { plugins: [], skills, warnings: incomplete ? [METADATA_WARNING] : [] };
}

/**
 * Inspects one capability root; problems with the root itself go to `error`.
 *
 * @example
 * ```ts
 * const root = await discoverRoot("r1", "/plugins/p1");
 * root.plugin?.manifest.path; // "file:///plugins/p1/.codex-plugin/plugin.json"
 * ```
 */
export async function discoverRoot(id: string, path: string): Promise<DiscoveredRoot> {
  const uri = uriFromPath(path);
  const empty = { id, path: uri, plugin: null, skills: [], namespaceManifests: [], warnings: [] };
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (err) {
    return {
      ...empty,
      error: `failed to inspect capability root ${uri}: ${osErrorMessage(err)}`,
    };
  }
  if (!info.isDirectory) return { ...empty, error: `capability root ${uri} is not a directory` };

  let plugin: DiscoveredRoot["plugin"] = null;
  const manifestPath = await manifestIn(path);
  const manifest = manifestPath === null ? null : await fileContents(manifestPath);
  if (manifest) {
    plugin = {
      manifest,
      mcpConfig: await fileContents(`${path}/.mcp.json`),
      appsConfig: await fileContents(`${path}/.app.json`),
    };
  }
  const { directories } = await scanTree(path);
  const namespaceManifests: FileContents[] = [];
  const skills: DiscoveredRoot["skills"] = [];
  const skillPaths: string[] = [];
  const manifestPaths: string[] = [];
  for (const dir of directories) {
    if (await isFile(`${dir}/SKILL.md`)) skillPaths.push(`${dir}/SKILL.md`);
    const found = await manifestIn(dir);
    if (found) manifestPaths.push(found);
  }
  for (const skill of skillPaths.sort(comparePaths)) {
    const instructions = await fileContents(skill);
    if (!instructions) continue;
    const dir = skill.slice(0, -"/SKILL.md".length);
    skills.push({ instructions, metadata: await fileContents(`${dir}/agents/openai.yaml`) });
  }
  for (const found of [...new Set(manifestPaths)].sort(comparePaths)) {
    const contents = await fileContents(found);
    if (contents) namespaceManifests.push(contents);
  }
  return { ...empty, plugin, skills, namespaceManifests, error: null };
}
