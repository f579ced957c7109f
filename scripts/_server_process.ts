/**
 * A launcher for any exec-server that prints its `ws://` URL as the first stdout line (ours,
 * upstream's, the bench's echo server, a release artifact): spawn, read that line within a
 * deadline, keep draining both pipes, stop with SIGTERM then SIGKILL.
 * @module
 */

/** A spawned server and its URL. */
export interface ServerProcess extends AsyncDisposable {
  url: string;
  pid: number;
  child: Deno.ChildProcess;
  /** Stderr captured so far (for error reports). */
  stderr(): string;
  stop(): Promise<void>;
}

/** Options of {@link startServerProcess}. */
export interface StartServerProcessOptions {
  env?: Record<string, string>;
  cwd?: string;
  /** Give up waiting for the URL line after this long. */
  timeoutMs?: number;
}

/**
 * Spawns `argv` and reads the first stdout line, which must be the `ws://` URL it listens on.
 *
 * @example
 * ```ts
 * await using server = await startServerProcess(["deno", "run", "-A", "main.ts", "serve"]);
 * console.log(server.url);
 * ```
 */
export async function startServerProcess(
  argv: string[],
  options: StartServerProcessOptions = {},
): Promise<ServerProcess> {
  const child = new Deno.Command(argv[0], {
    args: argv.slice(1),
    env: options.env,
    cwd: options.cwd,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const errText: string[] = [];
  const errDone = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of child.stderr) {
      if (errText.length < 200) errText.push(decoder.decode(chunk, { stream: true }));
    }
  })().catch(() => {});
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  // A cleared timer, not AbortSignal.timeout: Deno's timeout signal keeps the process alive
  // until it fires, so every caller lingered 60 s after its work was done.
  let expire = () => {};
  const expired = new Promise<{ done: true; value: undefined }>((resolve) => {
    expire = () => resolve({ done: true, value: undefined });
  });
  const timer = setTimeout(expire, options.timeoutMs ?? 60_000);
  while (!buffered.includes("\n")) {
    const next = await Promise.race([reader.read(), expired]);
    if (next.done) {
      clearTimeout(timer);
      try {
        child.kill("SIGKILL");
      } catch { /* exited */ }
      await child.status;
      throw new Error(`${argv.join(" ")} printed no URL; stderr:\n${errText.join("")}`);
    }
    buffered += next.value;
  }
  clearTimeout(timer);
  const url = buffered.split("\n")[0].trim();
  // Keep draining stdout so the server never blocks on a full pipe.
  const outDone = (async () => {
    for (;;) if ((await reader.read()).done) break;
  })().catch(() => {});
  let stopping: Promise<void> | null = null;
  const stop = () => {
    stopping ??= (async () => {
      try {
        child.kill("SIGTERM");
      } catch { /* exited */ }
      const timer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch { /* exited */ }
      }, 5_000);
      await child.status;
      clearTimeout(timer);
      await child.stdin.close().catch(() => {});
      await Promise.all([errDone, outDone]);
    })();
    return stopping;
  };
  return {
    url,
    pid: child.pid,
    child,
    stderr: () => errText.join(""),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
