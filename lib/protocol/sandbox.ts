/**
 * The optional `sandbox` member of `process/start` and of every filesystem request (Codex's
 * permission profile).
 * @module
 */
import { z } from "zod";

// Only the parts that decide "restricted or not" are checked; the rest of Codex's large
// permission model passes through untouched.
const fileSystemPermissions = z.looseObject({ type: z.enum(["restricted", "unrestricted"]) });
/**
 * A permission profile: `managed` (with a file-system policy), `disabled` or `external`.
 *
 * @example
 * ```ts
 * permissionProfile.parse({ type: "disabled" });
 * ```
 */
export const permissionProfile = z.discriminatedUnion("type", [
  z.looseObject({ type: z.literal("managed"), file_system: fileSystemPermissions }),
  z.looseObject({ type: z.literal("disabled") }),
  z.looseObject({ type: z.literal("external") }),
]);

/**
 * Schema of `FileSystemSandboxContext | null`, optional on every fs method.
 *
 * @example
 * ```ts
 * const sandbox = sandboxSchema.parse({ permissions: { type: "disabled" } });
 * ```
 */
export const sandboxSchema = z.looseObject({ permissions: permissionProfile }).nullish();

/** The parsed `sandbox` member. */
export type SandboxContext = z.output<typeof sandboxSchema>;
