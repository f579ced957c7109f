/**
 * `environment/info` and `environment/status` (spec §3.2).
 * @module
 */
import { tmpdir } from "node:os";
import { createHash } from "node:crypto";
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
  sandboxedFileStreaming: true,
  shellSnapshotV2: true,
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

let cachedProviderId: string | undefined;

/**
 * A stable executor identity: SHA-256 of the host's machine id (or hostname) and the user, so
 * restarts keep it and two users on one host differ. Upstream's id is also stable per host; what
 * it hashes is not known, so the values differ between the two implementations.
 *
 * @example
 * ```ts
 * providerId(); // "sha256:2f0c…"
 * ```
 */
export function providerId(): string {
  if (cachedProviderId) return cachedProviderId;
  let machine = "";
  for (const path of ["/etc/machine-id", "/var/lib/dbus/machine-id"]) {
    try {
      machine = Deno.readTextFileSync(path).trim();
      if (machine) break;
    } catch {
      // not on this platform
    }
  }
  if (!machine) machine = Deno.hostname();
  const user = Deno.env.get("USER") ?? Deno.env.get("HOME") ?? "";
  const digest = createHash("sha256").update(`codex-exec-server\0${machine}\0${user}`).digest(
    "hex",
  );
  cachedProviderId = `sha256:${digest}`;
  return cachedProviderId;
}

function platformOs(): string {
  return Deno.build.os === "darwin" ? "macos" : Deno.build.os;
}

/**
 * Describes this host for `environment/info` and the `initialize` response.
 *
 * @example
 * ```ts
 * environmentInfo().shell?.name; // "bash"
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
    providerId: providerId(),
    cwd: cwd === null ? null : uriFromPath(cwd),
    ...(home ? { userHomeDir: uriFromPath(home) } : {}),
    platformOs: platformOs(),
    prependPathDirs: [],
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
