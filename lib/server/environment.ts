/**
 * `environment/info` and `environment/status` (spec §3.2).
 * @module
 */
import { tmpdir } from "node:os";
import { uriFromPath } from "../protocol/file_uri.ts";
import { defineMethod } from "../method/mod.ts";
import { type EnvironmentInfo, unitParams } from "../protocol/environment.ts";
import { VERSION } from "../version.ts";

/** Capability flags; upstream extensions we do not implement stay false. */
export const CAPABILITIES: Record<string, boolean> = {
  networkProxyLaunch: false,
  capabilityDiscoverySandbox: false,
  environmentConfigRead: true,
  httpHeaderEnvVars: true,
  sandboxedFileStreaming: false,
  shellSnapshotV2: false,
  fileWriteStreaming: true,
  fsWatchMissing: true,
  capabilityDiscoveryV2: true,
  windowsMxc: false,
  // Ours, beyond upstream: `process/resize` (+ rows/cols on start), `process/closeStdin`, and
  // `process/signal` names beyond `interrupt`. PTYs exist on Linux only (lib/process/_libc.ts).
  processResize: Deno.build.os === "linux",
  processCloseStdin: true,
  processSignals: true,
};

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
export function environmentInfo(): EnvironmentInfo {
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
export const environmentHandlers = {
  info: defineMethod({
    family: "environment info",
    lane: "control",
    params: unitParams,
    handle: () => environmentInfo(),
  }),
  status: defineMethod({
    family: "environment status",
    lane: "control",
    params: unitParams,
    handle: () => ({ status: "ready" }),
  }),
};
