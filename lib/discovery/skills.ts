/**
 * Skill files (`SKILL.md` with YAML front matter, optional `agents/openai.yaml`) as upstream's
 * discovery reports them.
 * @module
 */
import { parse as parseYaml } from "yaml";
import type { SkillDependencies, SkillPolicy } from "../protocol/discovery.ts";

/** The front matter fields discovery reports. */
export interface SkillFrontMatter {
  name: string;
  description: string;
  shortDescription: string | null;
}

/**
 * Parses the front matter of a SKILL.md; null when it is missing or lacks a name or description.
 *
 * @example
 * ```ts
 * parseSkillFrontMatter("---\nname: a\ndescription: b\n---\nbody");
 * // { name: "a", description: "b", shortDescription: null }
 * ```
 */
export function parseSkillFrontMatter(text: string): SkillFrontMatter | null {
  const match = /^---[ \t]*\r?\n([\s\S]*?)\r?\n---[ \t]*(?:\r?\n|$)/.exec(text);
  if (!match) return null;
  let data: unknown;
  try {
    data = parseYaml(match[1]);
  } catch {
    return null;
  }
  if (typeof data !== "object" || data === null) return null;
  const { name, description, metadata } = data as Record<string, unknown>;
  if (typeof name !== "string" || typeof description !== "string") return null;
  if (name.trim() === "" || description.trim() === "") return null;
  const short = typeof metadata === "object" && metadata !== null
    ? (metadata as Record<string, unknown>)["short-description"]
    : undefined;
  return {
    name: name.trim(),
    description: description.trim(),
    shortDescription: typeof short === "string" ? short.trim() : null,
  };
}

function text(value: unknown): string | null {
  return typeof value === "string" ? value : null;
}

/**
 * `dependencies` and `policy` from an `agents/openai.yaml` text (both null when absent).
 *
 * @example
 * ```ts
 * parseSkillAgentsYaml("policy:\n  allow_implicit_invocation: false\n").policy;
 * // { allowImplicitInvocation: false, products: [] }
 * ```
 */
export function parseSkillAgentsYaml(
  source: string,
): { dependencies: SkillDependencies | null; policy: SkillPolicy | null } {
  let data: unknown;
  try {
    data = parseYaml(source);
  } catch {
    return { dependencies: null, policy: null };
  }
  if (typeof data !== "object" || data === null) return { dependencies: null, policy: null };
  const { dependencies, policy } = data as Record<string, unknown>;
  let deps: SkillDependencies | null = null;
  if (typeof dependencies === "object" && dependencies !== null) {
    const tools = (dependencies as Record<string, unknown>).tools;
    deps = {
      tools: (Array.isArray(tools) ? tools : []).filter((t) => typeof t === "object" && t).map(
        (tool: Record<string, unknown>) => ({
          type: text(tool.type) ?? "",
          value: text(tool.value) ?? "",
          description: text(tool.description),
          transport: text(tool.transport),
          command: text(tool.command),
          url: text(tool.url),
          oauthCallbackPort: typeof tool.oauth_callback_port === "number"
            ? tool.oauth_callback_port
            : null,
        }),
      ),
    };
  }
  let pol: SkillPolicy | null = null;
  if (typeof policy === "object" && policy !== null) {
    const p = policy as Record<string, unknown>;
    pol = {
      allowImplicitInvocation: typeof p.allow_implicit_invocation === "boolean"
        ? p.allow_implicit_invocation
        : null,
      products: Array.isArray(p.products) ? p.products.filter((x) => typeof x === "string") : [],
    };
  }
  return { dependencies: deps, policy: pol };
}
