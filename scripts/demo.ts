/**
 * `deno task demo`: the whole remote flow on one machine — a rendezvous, a seed-era executor
 * and an E5 Noise environment registered with it, one `exec` through each — then everything is
 * shut down.
 * @module
 */
const ROOT = new URL("..", import.meta.url).pathname;
const MAIN = `${ROOT}main.ts`;
const EXECUTOR_ID = "demo-executor";
const ENVIRONMENT_ID = "demo-environment";

function say(line: string): void {
  console.log(`\x1b[1m[demo]\x1b[0m ${line}`);
}

function spawn(args: string[], env: Record<string, string> = {}): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    env: { CODEX_EXEC_SERVER_LOG: "info", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** Reads a stream line by line, mirroring each line with a prefix; resolves a waiter per match. */
function follow(stream: ReadableStream<Uint8Array>, prefix: string) {
  const waiters: { text: string; resolve: (line: string) => void }[] = [];
  (async () => {
    let buffer = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      buffer += chunk;
      let newline;
      while ((newline = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        console.log(`  ${prefix} ${line}`);
        for (const waiter of waiters.splice(0)) {
          if (line.includes(waiter.text)) waiter.resolve(line);
          else waiters.push(waiter);
        }
      }
    }
  })().catch(() => {});
  return (text: string) => new Promise<string>((resolve) => waiters.push({ text, resolve }));
}

async function firstLine(stream: ReadableStream<Uint8Array>): Promise<string> {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("the rendezvous exited before printing its URL");
    text += value;
  }
  reader.releaseLock();
  return text.split("\n")[0];
}

const token = crypto.randomUUID();
const tokenFile = await Deno.makeTempFile({ prefix: "demo-token-" });
await Deno.writeTextFile(tokenFile, token);
const env = {
  CODEX_EXEC_SERVER_REMOTE_BEARER_TOKEN: token,
  CODEX_EXEC_SERVER_NOISE_AUTH_TOKEN: token,
};
const children: Deno.ChildProcess[] = [];
let code = 1;
try {
  say("1/5 starting the rendezvous (registry + relay) on 127.0.0.1");
  const rendezvous = spawn(["rendezvous", "--token-file", tokenFile]);
  children.push(rendezvous);
  follow(rendezvous.stderr, "rendezvous |");
  const base = await firstLine(rendezvous.stdout);
  say(`    rendezvous at ${base}`);

  say(`2/5 starting a remote executor "${EXECUTOR_ID}" that registers with it`);
  const remote = spawn(["remote", "--remote", base, "--executor-id", EXECUTOR_ID], env);
  children.push(remote);
  const remoteLog = follow(remote.stderr, "remote     |");
  remote.stdout.cancel();
  await remoteLog("connected to the rendezvous");

  const script = 'echo "hello from $(hostname) via the rendezvous"; echo "pid $$"; exit 0';
  say(`3/5 exec --registry ${base} --executor-id ${EXECUTOR_ID} -- sh -c '${script}'`);
  const exec = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      MAIN,
      "exec",
      "--registry",
      base,
      "--executor-id",
      EXECUTOR_ID,
      "--",
      "sh",
      "-c",
      script,
    ],
    env,
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  say(`exec exited with ${exec.code}`);

  say(`4/5 starting an E5 Noise environment "${ENVIRONMENT_ID}" (what current Codex reaches)`);
  const environment = spawn(["remote", "--remote", base, "--environment-id", ENVIRONMENT_ID], env);
  children.push(environment);
  const environmentLog = follow(environment.stderr, "noise env  |");
  environment.stdout.cancel();
  await environmentLog("connected to the rendezvous");
  const e5Script = 'echo "hello over an end-to-end encrypted Noise stream from $(hostname)"';
  say(`5/5 exec --registry ${base} --environment-id ${ENVIRONMENT_ID} -- sh -c '${e5Script}'`);
  say(
    `    (real Codex: CODEX_EXEC_SERVER_NOISE_REGISTRY_URL=${base} ` +
      `CODEX_EXEC_SERVER_NOISE_ENVIRONMENT_ID=${ENVIRONMENT_ID} CODEX_EXEC_SERVER_NOISE_AUTH_TOKEN=...)`,
  );
  const e5 = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      MAIN,
      "exec",
      "--registry",
      base,
      "--environment-id",
      ENVIRONMENT_ID,
      "--",
      "sh",
      "-c",
      e5Script,
    ],
    env,
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  say(`exec exited with ${e5.code}`);
  code = exec.code || e5.code;
} finally {
  for (const child of children.reverse()) {
    try {
      child.kill("SIGTERM");
    } catch {
      // already gone
    }
    await child.status;
  }
  await Deno.remove(tokenFile).catch(() => {});
  say("stopped the executor and the rendezvous");
}
Deno.exit(code);
