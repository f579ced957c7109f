/**
 * The `process/*` JSON-RPC methods (spec §3.1): schemas and handlers over the session's table.
 * @module
 */
import { z } from "zod";
import { ErrorCode, invalidParams, RpcError } from "../jsonrpc/errors.ts";
import { pathFromUri } from "../fs/path_uri.ts";
import { defineMethod, type MethodTable } from "../server/method.ts";
import { decodeBase64 } from "../util/base64.ts";
import { buildChildEnv } from "./env_policy.ts";

const u64 = z.number().int().nonnegative();
/** A terminal dimension (rows or columns), as `struct winsize` holds it. */
const dimension = z.number().int().min(1).max(65535);

/** Params of `process/start`. */
export const startParams = z.object({
  processId: z.string(),
  argv: z.array(z.string()),
  cwd: z.string(),
  env: z.record(z.string(), z.string()),
  tty: z.boolean(),
  pipeStdin: z.boolean().optional(),
  /** Ours: initial PTY window size (default 24x80); ignored without `tty`. */
  rows: dimension.optional(),
  cols: dimension.optional(),
  arg0: z.string().nullish(),
  envPolicy: z.object({
    inherit: z.enum(["all", "core", "none"]),
    ignoreDefaultExcludes: z.boolean(),
    exclude: z.array(z.string()),
    set: z.record(z.string(), z.string()),
    includeOnly: z.array(z.string()),
  }).nullish(),
  sandbox: z.unknown().optional(),
  enforceManagedNetwork: z.boolean().optional(),
  managedNetwork: z.object({
    loopbackPorts: z.array(z.number().int()),
    allowLocalBinding: z.boolean(),
  }).nullish(),
  metadata: z.object({ threadId: z.string().nullish(), toolCallId: z.string().nullish() })
    .nullish(),
});

/** Params of `process/read`. */
export const readParams = z.object({
  processId: z.string(),
  afterSeq: u64.nullish(),
  maxBytes: u64.nullish(),
  waitMs: u64.nullish(),
});

/** Params of `process/write`. */
export const writeParams = z.object({
  processId: z.string(),
  chunk: z.string(),
  writeId: z.string(),
});

/**
 * Signal names accepted by `process/signal`, with the signal each sends to the group. Upstream
 * knows only `interrupt`; the others are ours (capability `processSignals`).
 */
export const PROCESS_SIGNALS: Record<string, Deno.Signal> = {
  interrupt: "SIGINT",
  terminate: "SIGTERM",
  kill: "SIGKILL",
  hangup: "SIGHUP",
  quit: "SIGQUIT",
};

/** Params of `process/signal`. */
export const signalParams = z.object({ processId: z.string(), signal: z.string() });

/** Params of `process/resize` (ours, capability `processResize`). */
export const resizeParams = z.object({ processId: z.string(), rows: dimension, cols: dimension });

/** Params of `process/closeStdin` (ours, capability `processCloseStdin`). */
export const closeStdinParams = z.object({ processId: z.string() });

/** Params of `process/terminate`. */
export const terminateParams = z.object({ processId: z.string() });

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

/** The process methods by wire name. */
export const processMethods: MethodTable = {
  "process/start": defineMethod({
    family: "exec",
    params: startParams,
    async handle(params, { session }) {
      if (params.argv.length === 0) throw invalidParams("argv must not be empty");
      const cwd = cwdFromUri(params.cwd);
      const env = buildChildEnv({
        env: params.env,
        policy: params.envPolicy,
        serverEnv: Deno.env.toObject(),
      });
      await session.processes.start({
        processId: params.processId,
        argv: params.argv,
        arg0: params.arg0,
        cwd,
        env,
        tty: params.tty,
        pipeStdin: params.pipeStdin ?? false,
        rows: params.rows,
        cols: params.cols,
      });
      return { processId: params.processId, sandboxType: "none" };
    },
  }),
  "process/read": defineMethod({
    family: "exec",
    params: readParams,
    handle(params, { session, connection }) {
      return session.processes.read(params, connection.signal);
    },
  }),
  "process/write": defineMethod({
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
      const status = await session.processes.write(params.processId, bytes, params.writeId);
      return { status };
    },
  }),
  "process/signal": defineMethod({
    family: "exec",
    lane: "control",
    params: signalParams,
    handle(params, { session }) {
      const signal = PROCESS_SIGNALS[params.signal];
      if (!signal) {
        throw invalidParams(
          `unknown variant \`${params.signal}\`, expected one of ${
            Object.keys(PROCESS_SIGNALS).map((s) => `\`${s}\``).join(", ")
          }`,
        );
      }
      // Upstream answers `{}`; the extra status is ours and ignored by upstream clients.
      return { status: session.processes.signal(params.processId, signal) };
    },
  }),
  "process/resize": defineMethod({
    family: "exec",
    lane: "control",
    params: resizeParams,
    handle(params, { session }) {
      return { status: session.processes.resize(params.processId, params) };
    },
  }),
  "process/closeStdin": defineMethod({
    family: "exec",
    // Ordinary lane: an EOF must not overtake writes sent before it.
    params: closeStdinParams,
    async handle(params, { session }) {
      return { status: await session.processes.closeStdin(params.processId) };
    },
  }),
  "process/terminate": defineMethod({
    family: "exec",
    lane: "control",
    params: terminateParams,
    handle(params, { session }) {
      return session.processes.terminate(params.processId);
    },
  }),
};
