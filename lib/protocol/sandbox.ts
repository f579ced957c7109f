/**
 * The `sandbox` member of `process/start` and of every `fs/*` request: Codex's permission profile
 * (spec codex_0169_surface.md §8, §10) and the context it is resolved against. The profile's
 * inner shapes are strict: a field we do not know could change what is allowed, and a profile we
 * cannot honour exactly must be refused (-32602), never run with a guess.
 * @module
 */
import { z } from "zod";

/**
 * A union tagged by `key`: the tag is checked first against the known values, so an unknown one
 * reads like serde's ``unknown variant `x`, expected one of `a`, `b` `` (upstream's text), then
 * the member is parsed.
 */
function tagged<T extends z.ZodType>(key: string, tags: readonly string[], union: T) {
  return z.unknown().superRefine((value, ctx) => {
    if (typeof value !== "object" || value === null || Array.isArray(value)) return;
    const tag = (value as Record<string, unknown>)[key];
    if (typeof tag === "string" && !tags.includes(tag)) {
      ctx.addIssue({ code: "invalid_value", values: [...tags], input: tag, path: [key] });
    }
  }).pipe(union);
}

/**
 * Access granted by one filesystem entry. `none` is Codex's legacy alias of `deny`.
 *
 * @example
 * ```ts
 * fileSystemAccess.parse("none"); // "deny"
 * ```
 */
export const fileSystemAccess = z.enum(["read", "write", "deny", "none"]).transform((access) =>
  access === "none" ? "deny" as const : access
);

/** `read`, `write` or `deny`. */
export type FileSystemAccess = z.output<typeof fileSystemAccess>;

const subpath = z.string().nullish();

/**
 * A path Codex names by role instead of by value (`{kind: "project_roots", subpath: ".git"}`).
 * `current_working_directory` is Codex's alias of `project_roots`; `unknown` carries a token
 * from a newer Codex, which we refuse when resolving.
 *
 * @example
 * ```ts
 * specialPath.parse({ kind: "slash_tmp" });
 * ```
 */
export const specialPath = tagged(
  "kind",
  [
    "root",
    "minimal",
    "project_roots",
    "current_working_directory",
    "tmpdir",
    "slash_tmp",
    "unknown",
  ],
  z.discriminatedUnion("kind", [
    z.strictObject({ kind: z.literal("root") }),
    z.strictObject({ kind: z.literal("minimal") }),
    z.strictObject({ kind: z.literal("project_roots"), subpath }),
    z.strictObject({ kind: z.literal("current_working_directory"), subpath }),
    z.strictObject({ kind: z.literal("tmpdir") }),
    z.strictObject({ kind: z.literal("slash_tmp") }),
    z.strictObject({ kind: z.literal("unknown"), path: z.string(), subpath }),
  ]),
);

/** A parsed {@link specialPath}. */
export type SpecialPath = z.output<typeof specialPath>;

/**
 * What one entry applies to: a plain path (absolute, or a `file:` URI), a glob, or a special
 * path.
 *
 * @example
 * ```ts
 * fileSystemPath.parse({ type: "path", path: "/srv/data" });
 * ```
 */
export const fileSystemPath = tagged(
  "type",
  ["path", "glob_pattern", "special"],
  z.discriminatedUnion("type", [
    z.strictObject({ type: z.literal("path"), path: z.string() }),
    z.strictObject({ type: z.literal("glob_pattern"), pattern: z.string() }),
    z.strictObject({ type: z.literal("special"), value: specialPath }),
  ]),
);

/** A parsed {@link fileSystemPath}. */
export type FileSystemPath = z.output<typeof fileSystemPath>;

/**
 * One filesystem entry of a restricted profile.
 *
 * @example
 * ```ts
 * fileSystemEntry.parse({
 *   path: { type: "special", value: { kind: "project_roots", subpath: ".git" } },
 *   access: "read",
 *   missing_path_behavior: "skip",
 * });
 * ```
 */
export const fileSystemEntry = z.strictObject({
  path: fileSystemPath,
  access: fileSystemAccess,
  missing_path_behavior: z.enum(["skip", "error"]).nullish(),
});

/** A parsed {@link fileSystemEntry}. */
export type FileSystemEntry = z.output<typeof fileSystemEntry>;

/**
 * The filesystem part of a managed profile.
 *
 * @example
 * ```ts
 * fileSystemPermissions.parse({ type: "unrestricted" });
 * ```
 */
export const fileSystemPermissions = tagged(
  "type",
  ["restricted", "unrestricted"],
  z.discriminatedUnion("type", [
    z.strictObject({
      type: z.literal("restricted"),
      entries: z.array(fileSystemEntry),
      glob_scan_max_depth: z.number().int().positive().nullish(),
    }),
    z.strictObject({ type: z.literal("unrestricted") }),
  ]),
);

/** A parsed {@link fileSystemPermissions}. */
export type FileSystemPermissions = z.output<typeof fileSystemPermissions>;

/**
 * Network access of a profile; absent means restricted (the stricter reading).
 *
 * @example
 * ```ts
 * networkPermission.parse(undefined); // "restricted"
 * ```
 */
export const networkPermission = z.enum(["restricted", "enabled"]).default("restricted");

/**
 * Codex's permission profile: `managed` (we enforce it), `disabled` (no sandbox) or `external`
 * (someone else confines the filesystem; we still apply the network filter).
 *
 * @example
 * ```ts
 * permissionProfile.parse({ type: "external", network: "restricted" });
 * ```
 */
export const permissionProfile = tagged(
  "type",
  ["managed", "disabled", "external"],
  z.discriminatedUnion("type", [
    z.strictObject({
      type: z.literal("managed"),
      file_system: fileSystemPermissions,
      network: networkPermission,
    }),
    z.strictObject({ type: z.literal("disabled") }),
    z.strictObject({ type: z.literal("external"), network: networkPermission }),
  ]),
);

/** A parsed {@link permissionProfile}. */
export type PermissionProfile = z.output<typeof permissionProfile>;

/**
 * The `sandbox` object: the profile plus what it is resolved against. Windows-only members
 * (`windowsSandboxLevel`, …) and `useLegacyLandlock` (a mechanism choice; we always use
 * bubblewrap) pass through.
 *
 * @example
 * ```ts
 * const sandbox = sandboxContext.parse({
 *   permissions: { type: "disabled" },
 *   cwd: "file:///work",
 *   workspaceRoots: ["file:///work"],
 * });
 * ```
 */
export const sandboxContext = z.looseObject({
  permissions: permissionProfile,
  cwd: z.string().nullish(),
  workspaceRoots: z.array(z.string()).nullish(),
  useLegacyLandlock: z.boolean().nullish(),
});

/** A parsed {@link sandboxContext}. */
export type SandboxContext = z.output<typeof sandboxContext>;

/**
 * The optional, nullable `sandbox` member as it appears in params.
 *
 * @example
 * ```ts
 * optionalSandbox.parse(null); // null
 * ```
 */
export const optionalSandbox = sandboxContext.nullish();

/**
 * `sandboxType` of the `process/start` result: `linuxSeccomp` only when the process really
 * runs confined.
 *
 * @example
 * ```ts
 * const reply: { sandboxType: SandboxType } = { sandboxType: "none" };
 * ```
 */
export type SandboxType = "none" | "linuxSeccomp";

/**
 * The name the fs params schemas use for {@link optionalSandbox}.
 *
 * @example
 * ```ts
 * sandboxSchema.parse(undefined); // undefined
 * ```
 */
export const sandboxSchema = optionalSandbox;
