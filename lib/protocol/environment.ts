/**
 * `initialize`, `environment/info` and `environment/status` on the wire (spec §2, §3.2).
 * @module
 */
import { z } from "zod";

/**
 * `initialize` params.
 *
 * @example
 * ```ts
 * initializeParams.parse({ clientName: "codex", resumeSessionId: null });
 * ```
 */
export const initializeParams = z.object({
  clientName: z.string(),
  resumeSessionId: z.string().nullish(),
});

/**
 * Whether `value` is what {@link unitParams} accepts: absent, null or `{}`.
 *
 * @example
 * ```ts
 * isUnitValue({}); // true
 * ```
 */
export function isUnitValue(value: unknown): boolean {
  if (value === undefined || value === null) return true;
  return typeof value === "object" && !Array.isArray(value) && Object.keys(value).length === 0;
}

/**
 * Params of unit-typed methods: absent, null or `{}`.
 *
 * @example
 * ```ts
 * unitParams.parse({});
 * ```
 */
export const unitParams = z.unknown().superRefine((value, ctx) => {
  if (isUnitValue(value)) return;
  ctx.addIssue({ code: "custom", message: "invalid type: map, expected unit" });
});

/** `environment/info`, also carried by the `initialize` result (fields beyond these are kept). */
export interface EnvironmentInfo {
  shell?: { name: string; path: string };
  executorVersion?: string;
  /** A stable `sha256:<hex>` identity of the executor host (same across restarts). */
  providerId?: string;
  cwd?: string | null;
  userHomeDir?: string;
  platformOs?: string;
  /**
   * `file:` URIs of folders Codex puts first on PATH (feature `login_shell_package_path`);
   * upstream lists its bundled tools (rg), this server ships none.
   */
  prependPathDirs?: string[];
  temporaryDirectories?: string[];
  tempDir?: string;
  capabilities?: Record<string, boolean>;
  [key: string]: unknown;
}

/** The `initialize` result. */
export interface InitializeResult {
  sessionId: string;
  environmentInfo: EnvironmentInfo;
}
