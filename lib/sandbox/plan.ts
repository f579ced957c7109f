/**
 * Resolves a Codex permission profile against the request's cwd, workspace roots and the
 * server's temporary directory into a {@link ConfinementPlan}: what the kernel must enforce.
 * Nothing here checks a path at run time; the plan only says which mounts and filters to set up.
 * @module
 */
import { invalidParams } from "../jsonrpc/errors.ts";
import { pathFromUri } from "../protocol/file_uri.ts";
import type {
  FileSystemAccess,
  FileSystemEntry,
  PermissionProfile,
  SandboxContext,
} from "../protocol/sandbox.ts";

/**
 * Names protected under every writable root even when the profile does not list them, as
 * upstream does: a command must not rewrite git history or Codex's own configuration.
 */
export const PROTECTED_NAMES: readonly string[] = [".git", ".agents", ".codex"];

/** The directories `{kind: "minimal"}` makes readable: what ordinary programs need to start. */
export const MINIMAL_READ_ROOTS: readonly string[] = [
  "/bin",
  "/sbin",
  "/usr",
  "/lib",
  "/lib32",
  "/lib64",
  "/libx32",
  "/etc",
];

/** One mount of the plan, applied in order (a later mount covers an earlier one). */
export type Mount =
  /** Bind the path read-only. */
  | { kind: "read"; path: string }
  /** Bind the path writable. */
  | { kind: "write"; path: string }
  /** An existing directory made empty and inaccessible (deny). */
  | { kind: "denyDirectory"; path: string }
  /** An existing file made empty (deny): `/dev/null` bound over it. */
  | { kind: "denyFile"; path: string }
  /**
   * A missing path inside a writable root that must stay uncreatable: an empty read-only
   * directory is mounted there (`mode` 0o555 for read, 0o000 for deny).
   */
  | { kind: "mask"; path: string; mode: number };

/** The filesystem view of a bubblewrap sandbox. */
export interface MountPlan {
  /** How `/` is mounted: read-only, writable, or an empty tmpfs (nothing readable). */
  root: FileSystemAccess | "none";
  /** Mounts below `/`, shallow paths first. */
  mounts: Mount[];
}

/** What the kernel must enforce for one request. */
export type ConfinementPlan =
  /** Nothing restricts: run directly. */
  | { kind: "none" }
  /** Host filesystem and namespaces, with the seccomp network filter only. */
  | { kind: "seccomp" }
  /** A bubblewrap sandbox with the given filesystem view. */
  | { kind: "bwrap"; filesystem: MountPlan; network: "restricted" | "enabled" };

/** What a profile is resolved against. */
export interface PlanContext {
  /** Native absolute cwd of the command (or fs call); used when no roots are given. */
  cwd: string;
  /** Native absolute project roots; empty means `[cwd]`. */
  workspaceRoots?: string[];
  /** The server's `$TMPDIR` (`{kind: "tmpdir"}`); unset means the entry is skipped. */
  tmpdir?: string;
}

/**
 * Resolves the `sandbox` member of a request. `null` means no sandbox. Throws -32602 naming the
 * part of the profile that cannot be honoured exactly.
 *
 * @example
 * ```ts
 * const plan = planConfinement(
 *   { permissions: { type: "managed", network: "restricted", file_system: { type: "restricted",
 *     entries: [{ path: { type: "special", value: { kind: "root" } }, access: "read" }] } } },
 *   { cwd: "/work" },
 * );
 * plan.kind; // "bwrap"
 * ```
 */
export function planConfinement(
  sandbox: SandboxContext | null | undefined,
  context: PlanContext,
): ConfinementPlan {
  if (!sandbox) return { kind: "none" };
  const profile: PermissionProfile = sandbox.permissions;
  switch (profile.type) {
    case "disabled":
      return { kind: "none" };
    case "external":
      return profile.network === "restricted" ? { kind: "seccomp" } : { kind: "none" };
    case "managed": {
      const fileSystem = profile.file_system;
      if (fileSystem.type === "unrestricted") {
        return profile.network === "restricted" ? { kind: "seccomp" } : { kind: "none" };
      }
      const roots = projectRoots(sandbox, context);
      const filesystem = planMounts(fileSystem.entries, { ...context, workspaceRoots: roots });
      return { kind: "bwrap", filesystem, network: profile.network };
    }
  }
  throw invalidParams("unsupported `sandbox.permissions`");
}

function projectRoots(sandbox: SandboxContext, context: PlanContext): string[] {
  const fromSandbox = (sandbox.workspaceRoots ?? []).map((uri, i) =>
    nativePath(uri, `sandbox.workspaceRoots.${i}`)
  );
  if (fromSandbox.length > 0) return fromSandbox;
  if (context.workspaceRoots && context.workspaceRoots.length > 0) return context.workspaceRoots;
  if (sandbox.cwd) return [nativePath(sandbox.cwd, "sandbox.cwd")];
  return [context.cwd];
}

function nativePath(value: string, where: string): string {
  let path: string;
  try {
    path = value.startsWith("file:") ? pathFromUri(value) : value;
  } catch (err) {
    throw invalidParams(`invalid path \`${value}\` at \`${where}\`: ${(err as Error).message}`);
  }
  if (!path.startsWith("/")) {
    throw invalidParams(`path \`${value}\` at \`${where}\` must be absolute`);
  }
  return normalize(path);
}

/** Lexical normalisation: no `.`, no empty components, no trailing slash. `..` is refused. */
function normalize(path: string): string {
  const parts: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      throw invalidParams(`path \`${path}\` must not contain \`..\``);
    }
    parts.push(part);
  }
  return "/" + parts.join("/");
}

function joinSubpath(root: string, subpath: string, where: string): string {
  if (subpath.startsWith("/")) {
    throw invalidParams(`subpath \`${subpath}\` at \`${where}\` must be relative`);
  }
  if (subpath.split("/").includes("..")) {
    throw invalidParams(`subpath \`${subpath}\` at \`${where}\` must not contain \`..\``);
  }
  return normalize(`${root}/${subpath}`);
}

interface Resolved {
  path: string;
  access: FileSystemAccess;
  /** True for the entries we add ourselves (protected names); an explicit entry wins. */
  implicit: boolean;
}

function resolveEntry(
  entry: FileSystemEntry,
  index: number,
  context: Required<PlanContext>,
): string[] {
  const where = `sandbox.permissions.file_system.entries.${index}`;
  const path = entry.path;
  switch (path.type) {
    case "path":
      return [nativePath(path.path, `${where}.path.path`)];
    case "glob_pattern":
      throw invalidParams(
        `glob_pattern entries (\`${path.pattern}\` at \`${where}.path\`) are not supported by this exec-server; ` +
          "list the paths instead",
      );
    case "special": {
      const value = path.value;
      switch (value.kind) {
        case "root":
          return ["/"];
        case "minimal":
          return MINIMAL_READ_ROOTS.filter((dir) => exists(dir));
        case "project_roots":
        case "current_working_directory":
          return context.workspaceRoots.map((root) =>
            value.subpath ? joinSubpath(root, value.subpath, `${where}.path.value.subpath`) : root
          );
        case "tmpdir":
          return context.tmpdir ? [nativePath(context.tmpdir, "TMPDIR")] : [];
        case "slash_tmp":
          return exists("/tmp") ? ["/tmp"] : [];
        case "unknown":
          throw invalidParams(
            `unknown special path \`${value.path}\` at \`${where}.path.value\`: ` +
              "this exec-server cannot enforce it",
          );
      }
      break;
    }
  }
  throw invalidParams(`unsupported entry at \`${where}\``);
}

// Equally specific entries: deny beats write, write beats read (Codex's precedence).
const PRECEDENCE: Record<FileSystemAccess, number> = { read: 0, write: 1, deny: 2 };

function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * The real location of `path` (symlinks resolved), so a bind lands where writes would go; a
 * missing path keeps its lexical form under its parent's real location.
 */
function realLocation(path: string): string {
  try {
    return Deno.realPathSync(path);
  } catch {
    const slash = path.lastIndexOf("/");
    if (slash <= 0) return path;
    const parent = realLocation(path.slice(0, slash));
    return `${parent === "/" ? "" : parent}${path.slice(slash)}`;
  }
}

function isEmptyDirectory(path: string): boolean {
  try {
    for (const _ of Deno.readDirSync(path)) return false;
    return true;
  } catch {
    return false;
  }
}

function depth(path: string): number {
  return path === "/" ? 0 : path.split("/").length - 1;
}

function isWithin(path: string, ancestor: string): boolean {
  return ancestor === "/" ? path.startsWith("/") : path === ancestor ||
    path.startsWith(`${ancestor}/`);
}

/**
 * Turns restricted entries into an ordered list of mounts.
 *
 * @example
 * ```ts
 * const plan = planMounts(
 *   [{ path: { type: "special", value: { kind: "root" } }, access: "read" }],
 *   { cwd: "/work", workspaceRoots: ["/work"] },
 * );
 * plan.root; // "read"
 * ```
 */
export function planMounts(entries: FileSystemEntry[], context: PlanContext): MountPlan {
  const full: Required<PlanContext> = {
    cwd: context.cwd,
    workspaceRoots: context.workspaceRoots?.length ? context.workspaceRoots : [context.cwd],
    tmpdir: context.tmpdir ?? "",
  };
  const byPath = new Map<string, Resolved>();
  const add = (path: string, access: FileSystemAccess, implicit: boolean) => {
    const real = realLocation(path);
    const known = byPath.get(real);
    if (known && !known.implicit && implicit) return;
    if (known && known.implicit === implicit && PRECEDENCE[known.access] >= PRECEDENCE[access]) {
      return;
    }
    byPath.set(real, { path: real, access, implicit });
  };
  entries.forEach((entry, index) => {
    for (const path of resolveEntry(entry, index, full)) add(path, entry.access, false);
  });
  for (const resolved of [...byPath.values()]) {
    if (resolved.access !== "write") continue;
    for (const name of PROTECTED_NAMES) {
      add(`${resolved.path === "/" ? "" : resolved.path}/${name}`, "read", true);
    }
  }
  const sorted = [...byPath.values()].sort((a, b) =>
    depth(a.path) - depth(b.path) || (a.path < b.path ? -1 : 1)
  );
  const rootEntry = sorted.find((r) => r.path === "/");
  const root: MountPlan["root"] = rootEntry
    ? (rootEntry.access === "deny" ? "none" : rootEntry.access)
    : "none";
  const applied: Resolved[] = [];
  const mounts: Mount[] = [];
  // What a path sees before its own mount: the nearest enclosing entry applied so far.
  const inherited = (path: string): FileSystemAccess | "none" => {
    for (let i = applied.length - 1; i >= 0; i--) {
      if (isWithin(path, applied[i].path)) return applied[i].access;
    }
    return root;
  };
  for (const entry of sorted) {
    if (entry.path === "/") continue;
    const outer = inherited(entry.path);
    const mount = mountFor(entry, outer);
    applied.push(entry);
    if (mount) mounts.push(mount);
  }
  return { root, mounts };
}

function mountFor(entry: Resolved, outer: FileSystemAccess | "none"): Mount | undefined {
  let info: Deno.FileInfo | undefined;
  try {
    info = Deno.statSync(entry.path);
  } catch {
    info = undefined;
  }
  switch (entry.access) {
    case "read":
      // An empty directory inside a writable root (often a mountpoint another sandbox made for
      // a missing name, which may vanish when that sandbox exits) gets the same empty read-only
      // mount as a missing name: bwrap recreates the mountpoint, a bind would fail without it.
      if (info?.isDirectory && outer === "write" && isEmptyDirectory(entry.path)) {
        return { kind: "mask", path: entry.path, mode: 0o555 };
      }
      if (info) return outer === "read" ? undefined : { kind: "read", path: entry.path };
      // Missing: only a writable surrounding could create it, so keep it uncreatable.
      return outer === "write" ? { kind: "mask", path: entry.path, mode: 0o555 } : undefined;
    case "write":
      if (!info) return undefined; // nothing to bind; its parent decides
      return outer === "write" ? undefined : { kind: "write", path: entry.path };
    case "deny":
      if (!info) {
        return outer === "write" ? { kind: "mask", path: entry.path, mode: 0o000 } : undefined;
      }
      if (outer === "none") return undefined;
      return info.isDirectory
        ? { kind: "denyDirectory", path: entry.path }
        : { kind: "denyFile", path: entry.path };
  }
}
