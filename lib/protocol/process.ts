/**
 * The `process/*` wire surface (spec §3.1): params schemas, results and notifications, shared by
 * the server's handlers and the client.
 * @module
 */
import { z } from "zod";
import { optionalSandbox, type SandboxType } from "./sandbox.ts";

const u64 = z.number().int().nonnegative();
/** A terminal dimension (rows or columns), as `struct winsize` holds it. */
const dimension = z.number().int().min(1).max(65535);

/**
 * The `envPolicy` member of `process/start` (spec §3.1.1).
 *
 * @example
 * ```ts
 * envPolicySchema.parse({ inherit: "core", ignoreDefaultExcludes: false, exclude: [], set: {}, includeOnly: [] });
 * ```
 */
export const envPolicySchema = z.object({
  inherit: z.enum(["all", "core", "none"]),
  ignoreDefaultExcludes: z.boolean(),
  exclude: z.array(z.string()),
  set: z.record(z.string(), z.string()),
  includeOnly: z.array(z.string()),
});

/** The `envPolicy` member of `process/start`. */
export type ExecEnvPolicy = z.output<typeof envPolicySchema>;

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
  envPolicy: envPolicySchema.nullish(),
  sandbox: optionalSandbox,
  enforceManagedNetwork: z.boolean().optional(),
  managedNetwork: z.object({
    loopbackPorts: z.array(z.number().int()),
    allowLocalBinding: z.boolean(),
  }).nullish(),
  metadata: z.object({ threadId: z.string().nullish(), toolCallId: z.string().nullish() })
    .nullish(),
  /** Capability `shellSnapshotV2`: capture the login shell once per scope, then source it. */
  shellSnapshot: z.object({
    scopeId: z.string(),
    shell: z.object({ name: z.string(), path: z.string() }),
  }).nullish(),
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
export const PROCESS_SIGNALS: Record<ProcessSignal, Deno.Signal> = {
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

/** Name of an output stream as it appears in `process/output` and `process/read` chunks. */
export type OutputStream = "stdout" | "stderr" | "pty";

/** Signal names of `process/signal` (`interrupt` upstream; the rest need `processSignals`). */
export type ProcessSignal = "interrupt" | "terminate" | "kill" | "hangup" | "quit";

/** Status of `process/write`: `accepted`, or why the bytes were not written. */
export type WriteStatus = "accepted" | "unknownProcess" | "stdinClosed" | "starting";

/** Outcome of `process/signal`, `process/resize` and `process/closeStdin` (ours). */
export type ControlStatus = "accepted" | "unknownProcess" | "starting" | "exited";

/** Result of `process/start`. */
export interface StartResult {
  processId: string;
  sandboxType: SandboxType;
}

/** One retained output chunk of `process/read` (`chunk` is base64). */
export interface ReadChunk {
  seq: number;
  stream: OutputStream;
  chunk: string;
}

/** Result of `process/read`. */
export interface ReadResult {
  chunks: ReadChunk[];
  nextSeq: number;
  exited: boolean;
  exitCode: number | null;
  closed: boolean;
  failure: null;
  sandboxDenied: boolean;
}

/** Params of the `process/output` notification. */
export interface OutputNotification extends ReadChunk {
  processId: string;
}

/** Params of the `process/exited` notification. */
export interface ExitedNotification {
  processId: string;
  seq: number;
  exitCode: number;
}

/** Params of the `process/closed` notification. */
export interface ClosedNotification {
  processId: string;
  seq: number;
}
