/**
 * A detached session whose children flood output (issue 12): once a process's retention buffer
 * is full and nobody is attached, the server stops reading its pipes (the child blocks on write),
 * so the flood costs no CPU until a client resumes the session.
 */
import assert from "node:assert/strict";
import { b64text, fileUri, startServer, TestClient, until } from "../_harness.ts";

const ENV = { PATH: "/usr/local/bin:/usr/bin:/bin" };
const CLOCK_TICKS_PER_SECOND = 100;

/** utime + stime of a process, in clock ticks (fields 14 and 15 of /proc/PID/stat). */
function cpuTicks(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

async function cpuShareOverOneSecond(pid: number): Promise<number> {
  const before = cpuTicks(pid);
  const started = performance.now();
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const seconds = (performance.now() - started) / 1000;
  return (cpuTicks(pid) - before) / CLOCK_TICKS_PER_SECOND / seconds;
}

Deno.test({
  name: "a detached session flooded by `yes` (pipe and pty) leaves the server idle",
  timeout: 30_000,
}, async () => {
  await using server = await startServer();
  const first = await TestClient.connect(server.url);
  const { sessionId } = await first.initialize();
  for (const tty of [false, true]) {
    await first.call("process/start", {
      processId: `yes-${tty}`,
      argv: ["yes", "flood"],
      cwd: fileUri("/tmp"),
      env: ENV,
      tty,
    });
  }
  await first.close();
  // Let the pumps fill their 1 MiB buffers and stop.
  await new Promise((resolve) => setTimeout(resolve, 500));
  const share = await cpuShareOverOneSecond(server.child.pid);
  console.log(`detached server CPU: ${(share * 100).toFixed(1)}% of a core`);
  assert(share < 0.1, `the detached server used ${(share * 100).toFixed(0)}% of a core`);

  // Resuming the session resumes reading: output is retained gap-free and keeps coming.
  await using second = await TestClient.connect(server.url);
  await second.initialize(sessionId as string);
  for (const tty of [false, true]) {
    const processId = `yes-${tty}`;
    const first = await second.call("process/read", { processId, afterSeq: 0 });
    const chunks = first.chunks as { seq: number; chunk: string }[];
    assert(chunks.length > 0);
    assert.match(b64text(chunks[0].chunk), /flood/);
    for (let i = 1; i < chunks.length; i++) assert.equal(chunks[i].seq, chunks[i - 1].seq + 1);
    const pausedAt = first.nextSeq as number;
    await until(5000, `${processId} output after the resume`, async () => {
      const later = await second.call("process/read", {
        processId,
        afterSeq: pausedAt,
        waitMs: 500,
      });
      return (later.nextSeq as number) > pausedAt + 10;
    });
    await second.call("process/terminate", { processId });
  }
});
