/**
 * `environment/info` and `environment/status` (spec §3.2).
 * @module
 */
import { z } from "zod";
import { tmpdir } from "node:os";
import { uriFromPath } from "../fs/path_uri.ts";
import { defineMethod, type MethodTable } from "./method.ts";
import { VERSION } from "../version.ts";

/** Capability flags; upstream extensions we do not implement stay false. */
export const CAPABILITIES: Record<string, boolean> = {
  networkProxyLaunch: false,
  capabilityDiscoverySandbox: false,
  environmentConfigRead: true,
  httpHeaderEnvVars: true,
  sandboxedFileStreaming: false,
  shellSnapshotV2: false,
  fileWriteStreaming: false,
  windowsMxc: false,
  // Ours, beyond upstream: `process/resize` (+ rows/cols on start), `process/closeStdin`, and
  // `process/signal` names beyond `interrupt`. PTYs exist on Linux only (lib/process/_libc.ts).
  processResize: Deno.build.os === "linux",
  processCloseStdin: true,
  processSignals: true,
};

/** Params of unit-typed methods: absent, null or `{}`. */
export const unitParams = z.unknown().superRefine((value, ctx) => {
  if (value === undefined || value === null) return;
  if (typeof value === "object" && !Array.isArray(value) && Object.keys(value).length === 0) {
    return;
  }
  ctx.addIssue({ code: "custom", message: "invalid type: map, expected unit" });
});

function platformOs(): string {
  return Deno.build.os === "darwin" ? "macos" : Deno.build.os;
}

/**
 * Describes this host for `environment/info` and the `initialize` response.
 *
 * @example
 * ```ts
 * environmentInfo().shell.name; // "bash"
 * ```
 */
export function environmentInfo(): {
  shell: { name: string; path: string };
  executorVersion: string;
  cwd: string | null;
  userHomeDir?: string;
  platformOs: string;
  temporaryDirectories: string[];
  tempDir?: string;
  capabilities: Record<string, boolean>;
} {
  const shellPath = Deno.env.get("SHELL") || "/bin/sh";
  const home = Deno.env.get("HOME");
  const tmpEnv = Deno.env.get("TMPDIR");
  let cwd: string | null = null;
  try {
    cwd = Deno.cwd();
  } catch {
    // The server's working directory was removed; upstream reports null.
  }
  return {
    shell: { name: shellPath.split("/").pop() || "sh", path: shellPath },
    executorVersion: VERSION,
    cwd: cwd === null ? null : uriFromPath(cwd),
    ...(home ? { userHomeDir: uriFromPath(home) } : {}),
    platformOs: platformOs(),
    temporaryDirectories: tmpEnv
      ? [uriFromPath(tmpEnv.startsWith("/") ? tmpEnv : `${cwd}/${tmpEnv}`)]
      : [],
    tempDir: uriFromPath(tmpdir()),
    capabilities: { ...CAPABILITIES },
  };
}

/** The environment methods by wire name. */
export const environmentMethods: MethodTable = {
  "environment/info": defineMethod({
    family: "environment info",
    lane: "control",
    params: unitParams,
    handle: () => environmentInfo(),
  }),
  "environment/status": defineMethod({
    family: "environment status",
    lane: "control",
    params: unitParams,
    handle: () => ({ status: "ready" }),
  }),
};
