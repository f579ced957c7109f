/**
 * The one small interface between the process table and the code that actually starts a child
 * (pipes or a pseudo-terminal). A new backend implements {@link Spawner}; the table does not change.
 * @module
 */

import type { OutputStream } from "../protocol/process.ts";

export type { OutputStream };

/** What to start. `env` is the complete child environment (nothing is inherited). */
export interface SpawnRequest {
  argv: string[];
  /** Overrides argv[0] as seen by the child, when set. */
  arg0?: string | null;
  /** Absolute native working directory. */
  cwd: string;
  env: Record<string, string>;
  /** Keep stdin writable (pipe mode only; a PTY always has input). */
  pipeStdin: boolean;
  /** Initial PTY window size (PTY backends only). */
  rows?: number;
  cols?: number;
}

/** One readable output channel of a child. */
export interface ChildOutput {
  stream: OutputStream;
  /**
   * The channel's bytes in order until EOF, read only as the consumer asks (a `ReadableStream`
   * qualifies); leaving a `for await` over it early releases the channel.
   */
  readable: AsyncIterable<Uint8Array>;
}

/** A started child. Every child leads its own process group (pgid = pid). */
export interface ChildHandle {
  readonly pid: number;
  /** Output channels: stdout+stderr for pipes, a single `pty` for a terminal. */
  readonly outputs: ChildOutput[];
  /** Whether `write` reaches the child (a pipe with `pipeStdin`, or a PTY). */
  readonly hasStdin: boolean;
  /** Queues bytes to the child's stdin / PTY master. Rejects if the input side is gone. */
  write(bytes: Uint8Array): Promise<void>;
  /** EOF for a pipe; ^D (VEOF) for a PTY. */
  closeStdin(): Promise<void>;
  /** Sends a signal to the child's whole process group; "no such process" is ignored. */
  signalGroup(signal: Deno.Signal): void;
  /** Sets the PTY window size (the child gets SIGWINCH); absent for pipe children. */
  resize?(rows: number, cols: number): void;
  /** Exit code per spec §4.5: the status, or 128+N for a death by signal N. */
  readonly exitCode: Promise<number>;
}

/** Starts children of one kind (pipes, or one PTY implementation). */
export interface Spawner {
  /**
   * Starts a child. Rejects with an `RpcError` (-32603, OS error text) when it cannot start.
   */
  spawn(request: SpawnRequest): Promise<ChildHandle>;
}
