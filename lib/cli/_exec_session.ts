/**
 * One `exec` run from start to finish, and every way it can end: the program exits (its code),
 * the reader of our output goes away (141), the user interrupts (130), the connection is lost
 * for good or the server shuts down (255). The terminal is always handed back cooked and with
 * no typed-ahead input left for the local shell.
 * @module
 */
import type { ClientState, ExecProcess, ExecServerClient } from "../client/mod.ts";
import { notice } from "./_target.ts";
import { discardTypedInput, writeAll } from "./_terminal.ts";

/**
 * Exit code when the client, not the remote program, failed (like ssh).
 *
 * @example
 * ```ts
 * import { CLIENT_FAILURE_EXIT } from "./_exec_session.ts";
 * if (Deno.exitCode === CLIENT_FAILURE_EXIT) console.error("the client failed, not the program");
 * ```
 */
export const CLIENT_FAILURE_EXIT = 255;
/** Exit status when our stdout was closed under us (`exec ... | head`), as for SIGPIPE. */
export const BROKEN_PIPE_EXIT = 141;
/** Exit status when the user ended the client with Ctrl-C, as a shell reports SIGINT. */
export const INTERRUPTED_EXIT = 130;
/**
 * How long output is still shown after the program exited and everything it wrote before
 * exiting was written: a background child that keeps the output open is not waited for.
 *
 * @example
 * ```ts
 * import { OUTPUT_LINGER_MS } from "./_exec_session.ts";
 * console.log(`background output is shown for ${OUTPUT_LINGER_MS} ms after exit`);
 * ```
 */
export const OUTPUT_LINGER_MS = 2_000;

const ETX = 0x03; // Ctrl-C in raw mode
const encoder = new TextEncoder();

/**
 * Follows the connection state the client reports, for the session to act on.
 *
 * @example
 * ```ts
 * import { ConnectionWatch } from "./_exec_session.ts";
 * const watch = new ConnectionWatch();
 * watch.update("recovering");
 * watch.state; // "recovering"
 * ```
 */
export class ConnectionWatch {
  /** The latest state. */
  state: ClientState = "connected";
  /** Called on every change. */
  onChange: (state: ClientState) => void = () => {};
  /** Records a change (wire it to `ConnectOptions.onStateChange`). */
  update(state: ClientState): void {
    this.state = state;
    this.onChange(state);
  }
}

/**
 * Options of {@link runSession}.
 *
 * @example
 * ```ts
 * import type { SessionOptions } from "./_exec_session.ts";
 * const options: SessionOptions = { raw: false, program: "ls" };
 * ```
 */
export interface SessionOptions {
  /** The local terminal is in raw mode (`exec -t` on a terminal): Ctrl-C arrives as a byte. */
  raw: boolean;
  /** The program's name, for messages. */
  program: string;
  /** The connection state (default: assumed connected throughout). */
  watch?: ConnectionWatch;
}

function exitStatus(code: number): number {
  return code >= 0 && code <= 255 ? code : CLIENT_FAILURE_EXIT;
}

function say(text: string): void {
  try {
    Deno.stderr.writeSync(encoder.encode(`${text}\n`));
  } catch {
    // stderr gone
  }
}

/**
 * Streams a started process: stdin in, stdout/stderr out, signals forwarded; resolves with
 * the exit code `exec` should return. Ctrl-C: the first goes to the program (in raw mode every
 * one does, through the remote terminal); while the connection is being resumed, after the
 * program exited, or on the second, it ends the client at once (130). Typed input is not sent
 * while the connection is down, and unread typed input is discarded on every way out.
 *
 * @example
 * ```ts ignore
 * const code = await runSession(client, proc, { raw: false, program: "ls" });
 * ```
 */
export async function runSession(
  client: ExecServerClient,
  proc: ExecProcess,
  options: SessionOptions,
): Promise<number> {
  const watch = options.watch ?? new ConnectionWatch();
  const end = Promise.withResolvers<number>();
  const typing = Deno.stdin.isTerminal();
  const giveUp = (why: string) => {
    say(`\r\nexec: ${why}`);
    proc.terminate().catch(() => {});
    end.resolve(INTERRUPTED_EXIT);
  };
  let exited = false;
  let interrupts = 0;
  const onInterrupt = () => {
    if (watch.state !== "connected") {
      return giveUp(
        "gave up resuming the session (Ctrl-C); the remote program may still run " +
          "until the server notices",
      );
    }
    if (exited) return giveUp("stopped waiting for output (Ctrl-C)");
    if (interrupts++ === 0) {
      proc.signal("interrupt").catch(() => {});
      return;
    }
    giveUp(`interrupted twice: \`${options.program}\` was terminated and exec quits`);
  };
  let outageNoticed = false;
  watch.onChange = (state) => {
    if (state === "connected") outageNoticed = false;
  };

  const listeners: [Deno.Signal, () => void][] = [];
  const on = (signal: Deno.Signal, handler: () => void) => {
    try {
      Deno.addSignalListener(signal, handler);
      listeners.push([signal, handler]);
    } catch {
      // not supported on this platform
    }
  };
  // In raw mode ^C arrives as a byte and the remote line discipline turns it into SIGINT.
  if (!options.raw) on("SIGINT", onInterrupt);
  for (const signal of ["SIGTERM", "SIGHUP"] as const) {
    on(signal, () => proc.terminate().catch(() => {}));
  }

  const pump = async () => {
    const buffer = new Uint8Array(64 * 1024);
    // Typed input is small: writes queue behind each other so reading never stops (the user
    // must never type into a terminal nobody reads). Piped input keeps backpressure.
    let writes: Promise<unknown> = Promise.resolve();
    for (;;) {
      const n = await Deno.stdin.read(buffer);
      if (proc.done) return;
      if (n === null) break;
      const bytes = buffer.slice(0, n);
      if (typing && watch.state !== "connected") {
        if (options.raw && bytes.includes(ETX)) return onInterrupt();
        if (!outageNoticed) {
          outageNoticed = true;
          notice("not connected: what you type now is not sent anywhere");
        }
        continue;
      }
      if (typing) {
        writes = writes.then(() => proc.write(bytes)).catch(() => {});
        continue;
      }
      if (await proc.write(bytes) !== "accepted") return;
    }
    await writes;
    if (proc.done) return;
    if (client.hasCapability("processCloseStdin")) {
      await proc.closeStdin();
    } else if (!options.raw) {
      say(
        "warning: end of input cannot be forwarded: this server does not support " +
          "process/closeStdin, so the remote program will keep waiting for input",
      );
    }
  };

  // Output the program wrote before it exited is always shown; what a background child it left
  // writes afterwards is shown for OUTPUT_LINGER_MS, then exec stops waiting.
  let written = 0;
  let exitTarget: number | undefined;
  const caughtUp = Promise.withResolvers<void>();
  const drain = (async () => {
    for await (const chunk of proc) {
      try {
        await writeAll(chunk.stream === "stderr" ? Deno.stderr : Deno.stdout, chunk.data);
      } catch (err) {
        if (!(err instanceof Deno.errors.BrokenPipe)) throw err;
        // Nobody reads any more: stop the program rather than let it run on unobserved.
        await proc.terminate().catch(() => {});
        return false;
      }
      if (++written === exitTarget) caughtUp.resolve();
    }
    return true;
  })();
  const finished = (async () => {
    const first = await Promise.race([
      drain.then((ok) => ({ drained: ok })),
      proc.wait().then((code) => ({ code })),
    ]);
    if ("drained" in first) return first.drained ? exitStatus(await proc.wait()) : BROKEN_PIPE_EXIT;
    exited = true;
    exitTarget = proc.outputChunks;
    if (written >= exitTarget) caughtUp.resolve();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const linger = caughtUp.promise.then(() =>
      new Promise<"linger">((resolve) =>
        timer = setTimeout(() => resolve("linger"), OUTPUT_LINGER_MS)
      )
    );
    const late = await Promise.race([drain, linger]);
    clearTimeout(timer);
    if (late === "linger") {
      say(
        `exec: \`${options.program}\` exited, but a background process it started keeps its ` +
          `output open; stopped waiting after ${OUTPUT_LINGER_MS / 1000} s and terminated it`,
      );
      await proc.terminate().catch(() => {});
      return exitStatus(first.code);
    }
    return late ? exitStatus(first.code) : BROKEN_PIPE_EXIT;
  })();

  try {
    pump().catch(() => {
      // stdin problems (closed pipe, process gone) must not hide the program's own result
    });
    return await Promise.race([finished, end.promise]);
  } finally {
    for (const [signal, handler] of listeners) Deno.removeSignalListener(signal, handler);
    discardTypedInput();
  }
}
