/**
 * The `sandbox` objects Codex 0.169.0 sends (spec codex_0169_surface.md §10), for tests.
 * @module
 */
import { fileUri } from "../_harness.ts";

function special(kind: string, subpath?: string) {
  return { type: "special", value: subpath ? { kind, subpath } : { kind } };
}

/** `codex -s workspace-write` for workspace `ws`. */
export function workspaceWrite(ws: string): Record<string, unknown> {
  return {
    permissions: {
      type: "managed",
      file_system: {
        type: "restricted",
        entries: [
          { path: special("root"), access: "read" },
          { path: special("project_roots"), access: "write" },
          { path: special("slash_tmp"), access: "write" },
          { path: special("tmpdir"), access: "write" },
          ...[".git", ".agents", ".codex", ".aws"].map((name) => ({
            path: special("project_roots", name),
            access: "read",
            missing_path_behavior: "skip",
          })),
        ],
      },
      network: "restricted",
    },
    cwd: fileUri(ws),
    workspaceRoots: [fileUri(ws)],
    windowsSandboxLevel: "disabled",
    windowsSandboxProxySettingsMode: "reconcile",
    useLegacyLandlock: false,
  };
}

/** `codex -s read-only` for workspace `ws`. */
export function readOnly(ws: string): Record<string, unknown> {
  const sandbox = workspaceWrite(ws);
  const permissions = sandbox.permissions as { file_system: { entries: unknown[] } };
  permissions.file_system.entries = [{ path: special("root"), access: "read" }];
  return sandbox;
}

/** A scratch workspace that is a git repository; removed on dispose. */
export async function scratchWorkspace(): Promise<{ ws: string } & AsyncDisposable> {
  const ws = await Deno.realPath(await Deno.makeTempDir({ prefix: "sandbox_ws_" }));
  await Deno.mkdir(`${ws}/.git`);
  await Deno.writeTextFile(`${ws}/.git/HEAD`, "ref: refs/heads/main\n");
  return {
    ws,
    async [Symbol.asyncDispose]() {
      await Deno.remove(ws, { recursive: true }).catch(() => {});
    },
  };
}
