/**
 * `capabilities/discoverV2` (capability `capabilityDiscoveryV2`) and
 * `capabilityRoots/discoverV1` on the wire: skills and plugins found on the executor host.
 * @module
 */
import { z } from "zod";
import { sandboxSchema } from "./sandbox.ts";

/**
 * `capabilities/discoverV2` params (the sandbox is accepted; discovery reads only).
 *
 * @example
 * ```ts
 * discoverV2Params.parse({ cwd: "file:///work" });
 * ```
 */
export const discoverV2Params = z.object({ cwd: z.string(), sandbox: sandboxSchema });

/**
 * `capabilityRoots/discoverV1` params.
 *
 * @example
 * ```ts
 * discoverRootsParams.parse({ roots: [{ id: "r1", path: "file:///plugins/p1" }] });
 * ```
 */
export const discoverRootsParams = z.object({
  roots: z.array(z.object({ id: z.string(), path: z.string(), sandbox: sandboxSchema })),
});

/** One tool a skill depends on (`agents/openai.yaml` `dependencies.tools`). */
export interface SkillToolDependency {
  type: string;
  value: string;
  description: string | null;
  transport: string | null;
  command: string | null;
  url: string | null;
  oauthCallbackPort: number | null;
}

/** A skill's dependencies. */
export interface SkillDependencies {
  tools: SkillToolDependency[];
}

/** A skill's invocation policy. */
export interface SkillPolicy {
  allowImplicitInvocation: boolean | null;
  products: string[];
}

/** A skill found by `capabilities/discoverV2`. */
export interface DiscoveredSkill {
  name: string;
  description: string;
  shortDescription: string | null;
  /** `file:` URI of the SKILL.md. */
  path: string;
  discoveryRoot: { id: string; path: string };
  dependencies: SkillDependencies | null;
  policy: SkillPolicy | null;
}

/** The `capabilities/discoverV2` result. */
export interface DiscoverV2Result {
  plugins: unknown[];
  skills: DiscoveredSkill[];
  warnings: string[];
}

/** A file and its text. */
export interface FileContents {
  path: string;
  contents: string;
}

/** One root of the `capabilityRoots/discoverV1` result. */
export interface DiscoveredRoot {
  id: string;
  path: string;
  plugin: {
    manifest: FileContents;
    mcpConfig: FileContents | null;
    appsConfig: FileContents | null;
  } | null;
  skills: { instructions: FileContents; metadata: FileContents | null }[];
  namespaceManifests: FileContents[];
  warnings: string[];
  error: string | null;
}

/** The `capabilityRoots/discoverV1` result. */
export interface DiscoverRootsResult {
  roots: DiscoveredRoot[];
}
