/**
 * `environmentConfig/read` (capability `environmentConfigRead`): the executor host's Codex
 * config layers (`/etc/codex/config.toml` as "system", `$CODEX_HOME/config.toml` as "user") and
 * requirements (`/etc/codex/requirements.toml`), each cut down to the key paths the client asks
 * for. Codex asks for `mcp_servers` in every session, which is how MCP servers configured on
 * the executor reach the model.
 * @module
 */
import { parse, TomlError } from "smol-toml";
import { internalError, invalidParams } from "../jsonrpc/errors.ts";
import { uriFromPath } from "../protocol/file_uri.ts";
import { projectTable } from "./_projection.ts";
import { codexHomeDir } from "../util/codex_home.ts";
import { type TomlTable, writeToml } from "./_toml_writer.ts";

/**
 * Test-only override of the system config folder (`/etc/codex`), so tests can provide system
 * layers without touching the host.
 *
 * @example
 * ```ts
 * Deno.env.set(SYSTEM_CONFIG_DIR_ENV, "/tmp/etc-codex");
 * ```
 */
export const SYSTEM_CONFIG_DIR_ENV = "CODEX_EXEC_SERVER_SYSTEM_CONFIG_DIR";

/** One projected layer. */
export interface ConfigLayer {
  /** `system (/etc/codex/config.toml)`, `user (<home>/config.toml)`, or the requirements path. */
  source: string;
  baseDir: string;
  toml: string;
}

/** Layers in precedence order; cloud layers go in at `cloudInsertionIndex` (after system). */
export interface LayerStack {
  layers: ConfigLayer[];
  cloudInsertionIndex: number;
}

/** The `environmentConfig/read` result. */
export interface EnvironmentConfig {
  userHomeDir: string | null;
  codexHomeDir: string;
  hostname: string;
  config: LayerStack;
  requirements: LayerStack;
}

/** Where the files are; defaults from the environment. */
export interface ConfigLocations {
  /** Default `$CODEX_EXEC_SERVER_SYSTEM_CONFIG_DIR` or `/etc/codex`. */
  systemDir?: string;
  /** Default `$CODEX_HOME` or `~/.codex`. */
  codexHome?: string;
}

function systemDir(): string {
  return Deno.env.get(SYSTEM_CONFIG_DIR_ENV) || "/etc/codex";
}

async function loadTable(path: string): Promise<TomlTable | null> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw internalError(`failed to load executor-local config: ${path}: ${(err as Error).message}`);
  }
  try {
    return parse(text, { integersAsBigInt: true }) as TomlTable;
  } catch (err) {
    if (!(err instanceof TomlError)) throw err;
    // smol-toml's message is "Invalid TOML document: <what>\n\n<excerpt>"; keep the <what>.
    const what = err.message.split("\n")[0].replace(/^Invalid TOML document: /, "");
    throw internalError(
      `failed to load executor-local config: ${path}:${err.line}:${err.column}: ${what}`,
    );
  }
}

async function layer(
  path: string,
  source: string,
  paths: string[][],
): Promise<ConfigLayer | null> {
  if (paths.length === 0) return null;
  const table = await loadTable(path);
  if (!table) return null;
  const projected = projectTable(table, paths);
  if (Object.keys(projected).length === 0) return null;
  const dir = path.slice(0, path.lastIndexOf("/")) || "/";
  return { source, baseDir: uriFromPath(dir), toml: writeToml(projected) };
}

function stack(system: (ConfigLayer | null)[], user: (ConfigLayer | null)[]): LayerStack {
  const systemLayers = system.filter((l) => l !== null);
  return {
    layers: [...systemLayers, ...user.filter((l) => l !== null)],
    cloudInsertionIndex: systemLayers.length,
  };
}

/**
 * Reads and projects the layers for `configPaths` and `requirementsPaths`, with upstream's
 * errors: -32602 when both are empty or a path has no segment, -32603 for unreadable TOML.
 *
 * @example
 * ```ts
 * const result = await readEnvironmentConfig({ configPaths: [["mcp_servers"]], requirementsPaths: [] });
 * result.config.layers.map((l) => l.source); // ["user (/root/.codex/config.toml)"]
 * ```
 */
export async function readEnvironmentConfig(
  request: { configPaths: string[][]; requirementsPaths: string[][] },
  locations: ConfigLocations = {},
): Promise<EnvironmentConfig> {
  const { configPaths, requirementsPaths } = request;
  if (configPaths.length === 0 && requirementsPaths.length === 0) {
    throw invalidParams("at least one config or requirements path is required");
  }
  if ([...configPaths, ...requirementsPaths].some((path) => path.length === 0)) {
    throw invalidParams("TOML paths must contain at least one key segment");
  }
  const sys = locations.systemDir ?? systemDir();
  const home = locations.codexHome ?? codexHomeDir();
  const systemConfig = `${sys}/config.toml`;
  const userConfig = `${home}/config.toml`;
  const requirements = `${sys}/requirements.toml`;
  const homeEnv = Deno.env.get("HOME");
  return {
    userHomeDir: homeEnv ? uriFromPath(homeEnv) : null,
    codexHomeDir: uriFromPath(home),
    hostname: Deno.hostname(),
    config: stack(
      [await layer(systemConfig, `system (${systemConfig})`, configPaths)],
      [await layer(userConfig, `user (${userConfig})`, configPaths)],
    ),
    requirements: stack([await layer(requirements, requirements, requirementsPaths)], []),
  };
}
