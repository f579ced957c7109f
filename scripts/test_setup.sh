#!/usr/bin/env bash
# What the test suite needs beyond Deno, installed once and idempotently (the README's test
# command and .ci/run both run this first): bubblewrap for tests/sandbox, Debian's nats-server for
# tests/rendezvous/cluster_* (with nginx-light and openssl), and the upstream Codex 0.169.0 (npm, into bench/upstream/) for the
# interop and Codex CLI tests. System packages come from apt-get (as root, or with sudo -n);
# elsewhere it says what to install and the affected tests fail or skip with that message.
set -u
cd "$(dirname "$0")/.."
if command -v deno >/dev/null 2>&1; then DENO=(deno); else DENO=(npx -y deno@2.9.6); fi

missing=()
command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ] || missing+=(nats-server)
# nginx: the front of scripts/deploy/cluster.compose.yaml, run by tests/rendezvous/cluster_compose_test.ts.
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=()
  [ "$(id -u)" -ne 0 ] && SUDO=(sudo -n)
  if command -v apt-get >/dev/null 2>&1 &&
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"; then
    echo "test setup: installed ${missing[*]}"
  else
    echo "test setup: could not install ${missing[*]} (install them with your package manager;" \
      "sandbox tests need bubblewrap, cluster tests nats-server, nginx-light, openssl)" >&2
  fi
fi

# Installed once here so parallel test files do not race on npm.
"${DENO[@]}" eval 'import { findUpstream } from "./scripts/_bench_servers.ts";
const found = await findUpstream({ install: true });
console.log("binary" in found ? `test setup: upstream codex ${found.binary}` : `test setup: ${found.skipped}`);'
exit 0
