import assert from "node:assert/strict";
import { ExecServerClient, RemoteCallError } from "../../lib/client/mod.ts";
import { startServer } from "../_harness.ts";
import { startTcpProxy } from "../_tcp_proxy.ts";

const MIB = 1024 * 1024;

async function digest(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const hash = await crypto.subtle.digest("SHA-256", bytes);
  return Array.from(new Uint8Array(hash), (b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test({
  name: "readFileStream delivers exact bytes, including an exact block multiple",
  timeout: 30_000,
}, async () => {
  await using server = await startServer();
  await using client = await ExecServerClient.connect(server.url);
  const dir = await Deno.makeTempDir();
  try {
    for (const size of [0, 10, 2 * MIB, 2 * MIB + 3]) {
      const data = new Uint8Array(size).map((_, i) => (i * 7 + size) & 0xff);
      await Deno.writeFile(`${dir}/f`, data);
      const chunks: Uint8Array[] = [];
      for await (const chunk of client.readFileStream(`${dir}/f`)) chunks.push(chunk);
      const got = new Uint8Array(await new Blob(chunks as BlobPart[]).arrayBuffer());
      assert.equal(got.length, size);
      assert.equal(await digest(got), await digest(data));
    }
    await assert.rejects(
      client.readFileStream(`${dir}/missing`).getReader().read(),
      (err: unknown) => err instanceof RemoteCallError && err.notFound,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "a download cut mid-file reopens the handle after recovery and stays exact",
  timeout: 15_000,
}, async () => {
  await using server = await startServer();
  await using proxy = startTcpProxy(server.url);
  await using client = await ExecServerClient.connect(proxy.url);
  const dir = await Deno.makeTempDir();
  try {
    const data = new Uint8Array(12 * MIB);
    for (let i = 0; i < data.length; i += 65536) {
      crypto.getRandomValues(data.subarray(i, i + 65536));
    }
    await Deno.writeFile(`${dir}/f`, data);
    const chunks: Uint8Array[] = [];
    let received = 0;
    let cut = false;
    for await (const chunk of client.readFileStream(`${dir}/f`, { readAhead: 2 })) {
      chunks.push(chunk);
      received += chunk.length;
      if (!cut && received >= 3 * MIB) {
        cut = true;
        proxy.cut();
      }
    }
    const got = new Uint8Array(await new Blob(chunks as BlobPart[]).arrayBuffer());
    assert.equal(got.length, data.length);
    assert.equal(await digest(got), await digest(data));
    assert.equal(client.recoveryStats.count, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
