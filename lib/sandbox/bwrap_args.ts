/**
 * The `bwrap` argument list for a {@link ConfinementPlan}: the mounts of its filesystem view, new
 * user/pid/net/ipc namespaces, every capability dropped, and the seccomp filter on a descriptor.
 * @module
 */
import type { ConfinementPlan, Mount, MountPlan } from "./plan.ts";

/** Options of {@link bwrapArgs}. */
export interface BwrapArgsOptions {
  /** Native cwd the command starts in (inside the sandbox: the same path). */
  cwd: string;
  /** Descriptor the seccomp program is readable on. */
  seccompFd: number;
  /**
   * `--new-session`: the command gets no controlling terminal, so it cannot push input into a
   * terminal outside (TIOCSTI). Off for PTY processes, whose terminal is their own.
   */
  newSession: boolean;
  /** Directories hidden from the command (an empty inaccessible tmpfs over each). */
  hide?: string[];
}

/**
 * Arguments after `bwrap` and before `--`.
 *
 * @example
 * ```ts
 * const args = bwrapArgs(
 *   { kind: "bwrap", network: "restricted", filesystem: { root: "read", mounts: [] } },
 *   { cwd: "/work", seccompFd: 3, newSession: true },
 * );
 * args.includes("--unshare-net"); // true
 * ```
 */
export function bwrapArgs(plan: ConfinementPlan, options: BwrapArgsOptions): string[] {
  const args = ["--die-with-parent"];
  if (options.newSession) args.push("--new-session");
  if (plan.kind === "bwrap") {
    args.push(...filesystemArgs(plan.filesystem));
    for (const dir of options.hide ?? []) args.push(...hideArgs(dir));
    args.push("--unshare-user", "--unshare-pid", "--unshare-ipc");
    if (plan.network === "restricted") args.push("--unshare-net");
    args.push("--proc", "/proc", "--cap-drop", "ALL");
  } else {
    // Seccomp only: the host's filesystem, devices and namespaces as they are (bwrap still
    // needs a mount namespace of its own, which changes nothing the command can see).
    args.push("--dev-bind", "/", "/");
    for (const dir of options.hide ?? []) args.push(...hideArgs(dir));
  }
  if (plan.kind === "bwrap" || plan.kind === "seccomp") {
    args.push("--seccomp", String(options.seccompFd));
  }
  args.push("--chdir", options.cwd);
  return args;
}

function hideArgs(dir: string): string[] {
  return ["--perms", "000", "--tmpfs", dir, "--remount-ro", dir];
}

function filesystemArgs(plan: MountPlan): string[] {
  const args: string[] = [];
  switch (plan.root) {
    case "read":
      args.push("--ro-bind", "/", "/");
      break;
    case "write":
      args.push("--bind", "/", "/");
      break;
    default:
      args.push("--tmpfs", "/");
  }
  // A fresh minimal /dev (null, zero, random, tty, pts, shm, …), never the host's devices.
  args.push("--dev", "/dev");
  for (const mount of plan.mounts) args.push(...mountArgs(mount));
  if (plan.root === "none") args.push("--remount-ro", "/");
  return args;
}

function mountArgs(mount: Mount): string[] {
  switch (mount.kind) {
    case "read":
      return ["--ro-bind", mount.path, mount.path];
    case "write":
      return ["--bind", mount.path, mount.path];
    case "denyDirectory":
      return ["--perms", "000", "--tmpfs", mount.path, "--remount-ro", mount.path];
    case "denyFile":
      return ["--ro-bind", "/dev/null", mount.path];
    case "mask":
      return [
        "--perms",
        mount.mode.toString(8).padStart(3, "0"),
        "--tmpfs",
        mount.path,
        "--remount-ro",
        mount.path,
      ];
  }
}
