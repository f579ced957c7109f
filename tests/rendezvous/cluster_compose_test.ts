/**
 * `scripts/deploy/cluster.compose.yaml` without Docker (no daemon, no images here): the file
 * parses as Compose YAML, every node service runs the rendezvous with the flags it gives (only
 * host names and ports mapped to 127.0.0.1), on a real nats-server started from the NATS
 * configuration the file carries, its healthcheck command answers as Docker would run it, and
 * nginx runs the file's front configuration: an executor registered through the front serves
 * an `exec` asked through the front, and again after its node is SIGKILLed (it registers again
 * through the front, which skips the dead node).
 */
import assert from "node:assert/strict";
import { parse } from "yaml";
import { runCli } from "../cli/_cli.ts";
import { type Child, spawnChild, startRemoteProcess } from "../remote/_chain.ts";
import { within } from "../relay/_helpers.ts";
import { freePort, waitForStatus } from "./_cluster.ts";
import { natsServerPath, NO_NATS } from "./_nats.ts";

const COMPOSE = new URL("../../scripts/deploy/cluster.compose.yaml", import.meta.url);
const TOKEN = "compose-test-token";
const NGINX = ["/usr/sbin/nginx", "/usr/bin/nginx"].find((path) => {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
});

interface Service {
  image?: string;
  command?: string | string[];
  ports?: string[];
  volumes?: string[];
  depends_on?: string[];
  healthcheck?: { test: string[] };
  configs?: { source: string; target: string }[];
}

interface ComposeFile {
  services: Record<string, Service>;
  configs: Record<string, { content: string }>;
  volumes: Record<string, unknown>;
}

/** `${NAME:?message}` and `$$` as Compose interpolates them. */
function interpolate(text: string, env: Record<string, string>): string {
  return text.replaceAll("$$", "\0").replace(
    /\$\{([A-Z_]+)(?::\?[^}]*)?\}/g,
    (_, name: string) => {
      assert.ok(name in env, `the compose file needs ${name}`);
      return env[name];
    },
  ).replaceAll("\0", "$");
}

Deno.test({
  timeout: 90_000,
  name:
    "deploy: cluster.compose.yaml parses, its NATS config and node commands form a working cluster, its healthcheck passes",
  ignore: NO_NATS || NGINX === undefined,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    within(
      90_000,
      "compose test",
      (async () => {
        const compose = parse(await Deno.readTextFile(COMPOSE), { merge: true }) as ComposeFile;
        const nodes = Object.entries(compose.services).filter(([, s]) =>
          String(s.command).includes("rendezvous")
        );
        assert.deepEqual(nodes.map(([name]) => name), ["rdv1", "rdv2", "rdv3"]);
        for (const [name, service] of Object.entries(compose.services)) {
          for (const dependency of service.depends_on ?? []) {
            assert.ok(dependency in compose.services, `${name} depends on unknown ${dependency}`);
          }
          for (const config of service.configs ?? []) {
            assert.ok(config.source in compose.configs, `${name}: unknown config ${config.source}`);
          }
        }
        const front = compose.configs.front.content;
        for (const [name] of nodes) assert.match(front, new RegExp(`server ${name}:8080`));
        assert.match(interpolate(front, {}), /proxy_set_header Upgrade \$http_upgrade;/);

        // NATS from the file's own configuration (listen address and store mapped to here).
        const dir = await Deno.makeTempDir({ prefix: "compose-nats-" });
        const natsPort = freePort();
        const natsConf = compose.configs.nats.content
          .replace("listen: 0.0.0.0:4222", `listen: 127.0.0.1:${natsPort}`)
          .replace('store_dir: "/data"', `store_dir: "${dir}/js"`);
        assert.notEqual(natsConf, compose.configs.nats.content);
        await Deno.writeTextFile(`${dir}/nats.conf`, natsConf);
        const nats = new Deno.Command(natsServerPath()!, {
          args: ["-c", `${dir}/nats.conf`],
          stdout: "null",
          stderr: "null",
        }).spawn();
        const children: Child[] = [];
        try {
          // Nodes exit when NATS refuses their first dial: wait until it listens.
          const listening = Date.now() + 10_000;
          for (;;) {
            try {
              (await Deno.connect({ hostname: "127.0.0.1", port: natsPort })).close();
              break;
            } catch (error) {
              if (Date.now() > listening) throw error;
              await new Promise((r) => setTimeout(r, 25));
            }
          }
          await Deno.writeTextFile(`${dir}/token`, TOKEN + "\n");
          const urls: string[] = [];
          for (const [name, service] of nodes) {
            const port = freePort();
            const command = interpolate(String(service.command), { PUBLIC_HOST: "127.0.0.1" })
              .replace("nats://nats:4222", `nats://127.0.0.1:${natsPort}`)
              .replace("0.0.0.0:8080", `0.0.0.0:${port}`)
              .replace(/ws:\/\/127\.0\.0\.1:808\d/, `ws://127.0.0.1:${port}`)
              .replace("/run/codex/token", `${dir}/token`)
              .split(/\s+/);
            assert.equal(command[0], "codex-exec-server", name);
            assert.ok(
              service.volumes?.some((v) => v.endsWith(":/usr/local/bin/codex-exec-server:ro")),
            );
            const child = await spawnChild(command.slice(1), {
              env: { CODEX_EXEC_SERVER_LOG: "info" },
              waitFirstLine: true,
            });
            children.push(child);
            const url = `http://127.0.0.1:${port}`;
            await waitForStatus(`${url}/readyz`, 200, 20_000);
            urls.push(url);
            // The healthcheck, as Docker runs it inside the container (port mapped).
            const test = service.healthcheck!.test;
            assert.deepEqual(test.slice(0, 3), ["CMD", "bash", "-c"]);
            const probe = await new Deno.Command(test[1], {
              args: [test[2], test[3].replace("/127.0.0.1/8080", `/127.0.0.1/${port}`)],
            }).output();
            assert.equal(probe.code, 0, `${name} healthcheck failed`);
          }
          // The front: the file's nginx site, node names mapped to their ports here.
          const frontPort = freePort();
          const site = interpolate(compose.configs.front.content, {})
            .replace(/server (rdv\d):8080/g, (_, name: string) =>
              `server 127.0.0.1:${
                new URL(urls[nodes.findIndex(([n]) => n === name)]).port
              }`)
            .replace("listen 8080;", `listen 127.0.0.1:${frontPort};`);
          await Deno.writeTextFile(
            `${dir}/nginx.conf`,
            `worker_processes 1;\nerror_log stderr;\npid ${dir}/nginx.pid;\nevents {}\n` +
              `http {\naccess_log off;\n${site}\n}\n`,
          );
          const nginx = new Deno.Command(NGINX!, {
            args: ["-p", dir, "-c", `${dir}/nginx.conf`, "-g", "daemon off;"],
            stdout: "null",
            stderr: "piped",
          }).spawn();
          try {
            const frontUrl = `http://127.0.0.1:${frontPort}`;
            await waitForStatus(`${frontUrl}/readyz`, 200, 10_000);
            await using remote = await startRemoteProcess(frontUrl, "compose-e1", {
              token: TOKEN,
              env: {
                CODEX_EXEC_SERVER_REMOTE_INITIAL_BACKOFF_MS: "100",
                CODEX_EXEC_SERVER_REMOTE_MAX_BACKOFF_MS: "500",
              },
            });
            const run = async (text: string) => {
              const result = await runCli(
                ["exec", "--registry", frontUrl, "--executor-id", "compose-e1", "--", "echo", text],
                { env: { CODEX_EXEC_SERVER_REMOTE_BEARER_TOKEN: TOKEN } },
              );
              assert.equal(result.stdout, `${text}\n`, result.stderr);
            };
            await run("through the front");
            // Kill the node holding the executor: it registers again through the front.
            const holder = children.findIndex((c) =>
              c.stderr().includes("executor compose-e1 connected")
            );
            assert.ok(holder >= 0, "no node holds the executor");
            await children[holder].stop("SIGKILL");
            await remote.waitForStderr("registering again", 20_000);
            await within(30_000, "exec after the node died", run("after failover"));
          } finally {
            nginx.kill("SIGTERM");
            const [status, log] = await Promise.all([
              nginx.status,
              new Response(nginx.stderr).text(),
            ]);
            assert.ok(status.signal === "SIGTERM" || status.code === 0, `nginx: ${log}`);
          }
        } finally {
          for (const child of children) await child.stop();
          nats.kill("SIGTERM");
          await nats.status;
          await Deno.remove(dir, { recursive: true });
        }
      })(),
    ),
});
