/**
 * The harness sessions an executor is serving, one per relay stream: each runs the session
 * server on its transport, logs how it ended, and is awaited when the executor stops. Shared by
 * the E2 (`remote_executor.ts`) and E5 (`environment_executor.ts`) loops.
 * @module
 */
import type { MessageTransport } from "../transport/types.ts";

/** What a served stream tells about itself. */
export interface ServedStream extends MessageTransport {
  readonly id: string;
  /** Why the stream ended, once it has. */
  readonly endReason?: string;
}

/** Log sinks of {@link ServedSessions}. */
export interface SessionLog {
  warn(line: string): void;
  debug(line: string): void;
}

/**
 * @example
 * ```ts
 * import { ServedSessions } from "./_served_sessions.ts";
 * const sessions = new ServedSessions(async (t) => t.close(), { warn() {}, debug() {} });
 * await sessions.settled();
 * ```
 */
export class ServedSessions {
  #running = new Set<Promise<void>>();
  #serve: (transport: MessageTransport) => Promise<void>;
  #log: SessionLog;

  constructor(serve: (transport: MessageTransport) => Promise<void>, log: SessionLog) {
    this.#serve = serve;
    this.#log = log;
  }

  /** Serves one stream; `kind` names it in the log ("session", "Noise session"). */
  start(transport: ServedStream, kind = "session"): void {
    this.#log.debug(`remote: new ${kind} stream ${transport.id}`);
    const session = this.#serve(transport).catch((error) => {
      this.#log.warn(`remote: session ${transport.id} failed: ${String(error)}`);
    }).finally(() => {
      this.#running.delete(session);
      this.#log.debug(
        `remote: session stream ${transport.id} ended${
          transport.endReason ? ` (${transport.endReason})` : ""
        }`,
      );
    });
    this.#running.add(session);
  }

  /** Resolves once every session started so far has ended. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.#running]);
  }
}
