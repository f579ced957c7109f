/**
 * Runs a filesystem call inside the request's sandbox when its profile restricts the filesystem:
 * one confined helper process per call (lib/fs/sandbox_helper.ts), started with the mounts a
 * confined command would get, so the kernel enforces the same rules for `fs/*` as for
 * `process/start`. Profiles that restrict nothing on the filesystem run in this process.
 * @module
 */
import { constants } from "node:fs";
import fsp from "node:fs/promises";
import { internalError, invalidParams, RpcError } from "../jsonrpc/errors.ts";
import type { SandboxContext } from "../protocol/sandbox.ts";
import { ConfinedWorker } from "../sandbox/confined_worker.ts";
import { enforcement } from "../sandbox/enforcement.ts";
import { planConfinement } from "../sandbox/plan.ts";
import { pathFromUri } from "../protocol/file_uri.ts";
import { openRegularFile } from "./read_write.ts";
import { FS_HELPER_SUBCOMMAND } from "./helper_subcommand.ts";

export { FS_HELPER_SUBCOMMAND };

const HELPER_ENTRY = new URL("./sandbox_helper_main.ts", import.meta.url);
const CONFIG = new URL("../../deno.json", import.meta.url);

function isFile(url: URL): boolean {
  if (url.protocol !== "file:") return false;
  try {
    return Deno.statSync(url).isFile;
  } catch {
    return false;
  }
}

let command: string[] | undefined;

/** How to start the helper: from source when we run from source, else ourselves again. */
function helperCommand(): string[] {
  if (command) return command;
  const runtime = Deno.execPath();
  if (Deno.build.standalone) return command = [runtime, FS_HELPER_SUBCOMMAND];
  // Only reads and writes: the helper needs no network, subprocess or FFI permission.
  const flags = ["run", "--quiet", "--no-prompt", "--allow-read", "--allow-write"];
  if (isFile(HELPER_ENTRY)) {
    const config = isFile(CONFIG) ? ["--config", CONFIG.pathname] : [];
    return command = [runtime, ...flags, ...config, HELPER_ENTRY.pathname];
  }
  // A bundle: the main module holds every module, the helper loop included.
  return command = [runtime, ...flags, new URL(Deno.mainModule).pathname, FS_HELPER_SUBCOMMAND];
}

const HELPER_ENV_KEYS = ["PATH", "HOME", "DENO_DIR", "XDG_CACHE_HOME", "TMPDIR", "LANG"];

function helperEnv(): Record<string, string> {
  const env: Record<string, string> = { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" };
  for (const key of HELPER_ENV_KEYS) {
    const value = Deno.env.get(key);
    if (value !== undefined) env[key] = value;
  }
  return env;
}

function planCwd(sandbox: SandboxContext): string {
  if (sandbox.cwd) {
    try {
      return sandbox.cwd.startsWith("file:") ? pathFromUri(sandbox.cwd) : sandbox.cwd;
    } catch {
      // planConfinement reports a bad cwd; fall back for the plan context only.
    }
  }
  return Deno.cwd();
}

type SandboxedPlan = Extract<ReturnType<typeof planConfinement>, { kind: "bwrap" }>;

/** The bwrap plan of `sandbox` when file calls must run confined, else undefined. */
function fileSystemPlan(sandbox: SandboxContext | null | undefined): SandboxedPlan | undefined {
  if (!sandbox) return undefined;
  const plan = planConfinement(sandbox, {
    cwd: planCwd(sandbox),
    tmpdir: Deno.env.get("TMPDIR"),
  });
  // Network rules do not apply to file operations: only a bwrap view changes what they see.
  if (plan.kind !== "bwrap") return undefined;
  if (plan.filesystem.root === "none") {
    // The helper is a program too: with nothing readable it could not even start, and widening
    // the view for it would let the call read what the profile hides.
    throw invalidParams(
      "sandboxed filesystem calls need read access to `/` (`{kind: root}`) in " +
        "`sandbox.permissions.file_system.entries`",
    );
  }
  return plan;
}

/**
 * Runs `direct` unless `params.sandbox` restricts the filesystem; then the call runs in a
 * confined helper and its answer (or error, with the same code and text) is returned.
 *
 * @example
 * ```ts
 * import { pathFromUri } from "../protocol/file_uri.ts";
 * import { writeFileBase64 } from "./read_write.ts";
 * import { writeFileParams } from "../protocol/fs.ts";
 * const params = writeFileParams.parse({ path: "file:///tmp/a.txt", dataBase64: "aGk=" });
 * const result = await runSandboxed("fs/writeFile", params, () =>
 *   writeFileBase64(pathFromUri(params.path), params.dataBase64, params)
 * );
 * ```
 */
export async function runSandboxed<T>(
  method: string,
  params: { sandbox?: SandboxContext | null },
  direct: () => Promise<T>,
): Promise<T> {
  const plan = fileSystemPlan(params.sandbox);
  if (!plan) return direct();
  const how = await enforcement(plan);
  if (!how.confined) return direct();
  const worker = ConfinedWorker.start(plan, helperCommand(), {
    runtime: how.runtime,
    env: helperEnv(),
  });
  try {
    const answer = await worker.call({ method, params: { ...params, sandbox: null } });
    if ("error" in answer) throw new RpcError(answer.error.code, answer.error.message);
    return answer.result as T;
  } finally {
    await worker.close();
  }
}

/**
 * For a sandboxed `fs/open`: a function that opens the file inside the sandbox (the helper
 * opens it, so the kernel decides, with upstream's errors) and hands back our own descriptor of
 * that same open file, reopened through `/proc/<helper>/fd/<fd>`; the helper then exits.
 * Undefined when the profile does not restrict the filesystem (open directly).
 *
 * @example
 * ```ts
 * import { FileHandleTable } from "./handles.ts";
 * const params = { path: "file:///etc/hostname", sandbox: null };
 * const opener = sandboxedOpener(params); // undefined: no sandbox, open directly
 * await using handles = new FileHandleTable();
 * await handles.open("h1", "/etc/hostname", { ...params, opener });
 * ```
 */
export function sandboxedOpener(
  params: {
    path: string;
    sandbox?: SandboxContext | null;
    mode?: "read" | "replace";
    followSymlinks?: boolean | null;
  },
): (() => Promise<fsp.FileHandle>) | undefined {
  const plan = fileSystemPlan(params.sandbox);
  if (!plan) return undefined;
  return async () => {
    const how = await enforcement(plan);
    if (!how.confined) return openRegularFile(pathFromUri(params.path), params);
    const command = helperCommand();
    const worker = ConfinedWorker.start(plan, command, { runtime: how.runtime, env: helperEnv() });
    try {
      const answer = await worker.call({ method: "fs/open", params: { ...params, sandbox: null } });
      if ("error" in answer) throw new RpcError(answer.error.code, answer.error.message);
      const { fd } = answer.result as { fd: number };
      const helper = findHelper(worker.pid, command[0]);
      if (helper === undefined) throw internalError("sandboxed fs/open: the helper vanished");
      const flags = params.mode === "replace" ? constants.O_WRONLY : constants.O_RDONLY;
      return await fsp.open(`/proc/${helper}/fd/${fd}`, flags);
    } finally {
      await worker.close();
    }
  };
}

/** The descendant of `root` running `executable` (the helper inside bwrap's pid namespace). */
function findHelper(root: number, executable: string): number | undefined {
  let wanted: string;
  try {
    wanted = Deno.realPathSync(executable);
  } catch {
    wanted = executable;
  }
  const queue = [root];
  for (let guard = 0; queue.length > 0 && guard < 64; guard++) {
    const pid = queue.shift()!;
    try {
      if (pid !== root && Deno.readLinkSync(`/proc/${pid}/exe`) === wanted) return pid;
    } catch {
      // gone, or not ours to read
    }
    try {
      for (const task of Deno.readDirSync(`/proc/${pid}/task`)) {
        const children = Deno.readTextFileSync(`/proc/${pid}/task/${task.name}/children`);
        for (const child of children.trim().split(/\s+/)) if (child) queue.push(Number(child));
      }
    } catch {
      // exited meanwhile
    }
  }
  return undefined;
}
