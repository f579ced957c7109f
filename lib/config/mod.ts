/**
 * Executor-local Codex configuration: `environmentConfig/read`.
 * @module
 */
export {
  type ConfigLayer,
  type ConfigLocations,
  type EnvironmentConfig,
  type LayerStack,
  readEnvironmentConfig,
  SYSTEM_CONFIG_DIR_ENV,
} from "./environment_config.ts";
export { configHandlers } from "./methods.ts";
