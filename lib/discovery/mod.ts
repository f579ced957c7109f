/**
 * Capability discovery on the executor host (skills, plugins).
 * @module
 */
export { discoverRoot, discoverV2 } from "./discover.ts";
export { discoveryHandlers } from "./methods.ts";
export { parseSkillAgentsYaml, parseSkillFrontMatter, type SkillFrontMatter } from "./skills.ts";
