/**
 * The `process/*` JSON-RPC handlers (spec §3.1) over the session's process table.
 * @module
 */
import { ErrorCode, invalidParams, RpcError } from "../jsonrpc/errors.ts";
import { defineMethod, type MethodSpec, type Session } from "../method/mod.ts";
import { pathFromUri } from "../protocol/file_uri.ts";
import {
  closeStdinParams,
  PROCESS_SIGNALS,
  type ProcessSignal,
  readParams,
  resizeParams,
  signalParams,
  startParams,
  terminateParams,
  writeParams,
} from "../protocol/process.ts";
import { decodeBase64 } from "../util/base64.ts";
import { buildChildEnv } from "./env_policy.ts";
import { sandboxCommand } from "./_sandboxed_start.ts";
import { ShellSnapshots } from "./shell_snapshot.ts";
import { checkNoNulBytes } from "./_spawn_checks.ts";

const SHELL_SNAPSHOTS = "process.shellSnapshots";
import { ProcessTable, type ProcessTableOptions } from "./process_table.ts";

// Upstream reports an unusable cwd URI as invalid params, naming the field.
function cwdFromUri(uri: string): string {
  try {
    return pathFromUri(uri);
  } catch (err) {
    if (err instanceof RpcError && err.code === ErrorCode.InvalidRequest) {
      throw invalidParams(
        `cwd URI \`${uri}\` is not valid on this exec-server host: ${err.message}`,
      );
    }
    throw err;
  }
}

const PROCESS_TABLE = "process.table";

/** Options of {@link processHandlers}: the table every session gets on first use. */
export type ProcessHandlersOptions = Omit<ProcessTableOptions, "sink" | "sinkChanged">;

/** The process handlers, by name; `lib/server/routes.ts` gives them their wire names. */
export interface ProcessHandlers {
  start: MethodSpec<typeof startParams>;
  read: MethodSpec<typeof readParams>;
  write: MethodSpec<typeof writeParams>;
  signal: MethodSpec<typeof signalParams>;
  resize: MethodSpec<typeof resizeParams>;
  closeStdin: MethodSpec<typeof closeStdinParams>;
  terminate: MethodSpec<typeof terminateParams>;
}

/**
 * The process handlers over a per-session {@link ProcessTable} built from `options`.
 *
 * @example
 * ```ts
 * import { PipeSpawner } from "./pipe_spawner.ts";
 * const process = processHandlers({ spawners: { pipe: new PipeSpawner() } });
 * ```
 */
export function processHandlers(options: ProcessHandlersOptions): ProcessHandlers {
  const tableOf = (session: Session) =>
    session.resource(
      PROCESS_TABLE,
      () =>
        new ProcessTable({
          ...options,
          sink: () => session.sink,
          sinkChanged: () => session.sinkChanged(),
          owner: session,
        }),
    );
  return {
    start: defineMethod({
      family: "exec",
      params: startParams,
      async handle(params, { session }) {
        if (params.argv.length === 0) throw invalidParams("argv must not be empty");
        const cwd = cwdFromUri(params.cwd);
        const env = buildChildEnv({
          env: params.env,
          policy: params.envPolicy,
          // Only a policy inherits anything; reading the whole environment costs 11-35 us of CPU.
          serverEnv: params.envPolicy ? Deno.env.toObject() : {},
        });
        checkNoNulBytes({ argv: params.argv, arg0: params.arg0, env });
        // A login profile only runs outside a restricted sandbox when nothing confines it.
        const unconfined = params.sandbox == null ||
          (params.sandbox as { permissions?: { type?: string } }).permissions?.type === "disabled";
        const argv = params.shellSnapshot && params.arg0 == null && unconfined
          ? await session.resource(SHELL_SNAPSHOTS, () => new ShellSnapshots())
            .rewrite(params.argv, params.shellSnapshot, { env, cwd })
          : params.argv;
        const { sandboxType, ...command } = await sandboxCommand(
          { argv, arg0: params.arg0, cwd, env, tty: params.tty },
          params.sandbox,
        );
        await tableOf(session).start({
          processId: params.processId,
          ...command,
          pipeStdin: params.pipeStdin ?? false,
          rows: params.rows,
          cols: params.cols,
        });
        return { processId: params.processId, sandboxType };
      },
    }),
    read: defineMethod({
      family: "exec",
      params: readParams,
      handle(params, { session, connection }) {
        return tableOf(session).read(params, connection.signal);
      },
    }),
    write: defineMethod({
      family: "exec",
      params: writeParams,
      async handle(params, { session }) {
        if (params.writeId === "") throw invalidParams("writeId must not be empty");
        let bytes: Uint8Array;
        try {
          bytes = decodeBase64(params.chunk);
        } catch (err) {
          throw invalidParams((err as Error).message);
        }
        const status = await tableOf(session).write(params.processId, bytes, params.writeId);
        return { status };
      },
    }),
    signal: defineMethod({
      family: "exec",
      lane: "control",
      params: signalParams,
      handle(params, { session }) {
        const signal = PROCESS_SIGNALS[params.signal as ProcessSignal];
        if (!signal) {
          throw invalidParams(
            `unknown variant \`${params.signal}\`, expected one of ${
              Object.keys(PROCESS_SIGNALS).map((s) => `\`${s}\``).join(", ")
            }`,
          );
        }
        // Upstream answers `{}`; the extra status is ours and ignored by upstream clients.
        return { status: tableOf(session).signal(params.processId, signal) };
      },
    }),
    resize: defineMethod({
      family: "exec",
      lane: "control",
      params: resizeParams,
      handle(params, { session }) {
        return { status: tableOf(session).resize(params.processId, params) };
      },
    }),
    closeStdin: defineMethod({
      family: "exec",
      // Ordinary lane: an EOF must not overtake writes sent before it.
      params: closeStdinParams,
      async handle(params, { session }) {
        return { status: await tableOf(session).closeStdin(params.processId) };
      },
    }),
    terminate: defineMethod({
      family: "exec",
      lane: "control",
      params: terminateParams,
      handle(params, { session }) {
        return tableOf(session).terminate(params.processId);
      },
    }),
  };
}
