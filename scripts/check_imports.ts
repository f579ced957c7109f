/**
 * `deno task check` step: fails when an import in lib/ points the wrong way. Folders sit on
 * layers; a module may import its own folder or a folder on a lower layer, never one on its own
 * layer or above (DESIGN.md: cli -> client/server/remote/rendezvous -> handlers ->
 * protocol/method/jsonrpc/transport/relay -> util).
 * @module
 */

/** Layer of each lib/ folder (and top-level lib file); higher may import lower. */
export const LAYERS: Record<string, number> = {
  "util": 0,
  "version.ts": 0,
  "jsonrpc": 1,
  "transport": 1,
  "noise": 1,
  // The registry contract carries Noise public keys (E5 register/connect/validate).
  "registry": 2,
  "protocol": 2,
  "relay": 2,
  "method": 3,
  "sandbox": 4,
  "process": 5,
  "fs": 5,
  "http": 5,
  "config": 5,
  "discovery": 5,
  "server": 6,
  "remote": 6,
  "rendezvous": 6,
  "client": 6,
  "cli": 7,
};

const IMPORT = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)"(\.{1,2}\/[^"]+)"/gm;

/** One import that points the wrong way. */
export interface Violation {
  file: string;
  target: string;
  reason: string;
}

function folderOf(libRelative: string): string {
  return libRelative.split("/")[0];
}

/**
 * Checks the relative imports of every `.ts` file under `root` (default `lib`).
 *
 * @example
 * ```ts
 * const violations = await checkImports("lib");
 * console.log(violations.length === 0 ? "ok" : violations);
 * ```
 */
export async function checkImports(root = "lib"): Promise<Violation[]> {
  const violations: Violation[] = [];
  const base = new URL(`${Deno.cwd()}/${root}/`, "file://");
  for await (const file of walkTs(root)) {
    // Doc comments (`@example` blocks) may import anything: only code lines count.
    const source = (await Deno.readTextFile(file)).split("\n")
      .filter((line) => !/^\s*(\*|\/\/)/.test(line)).join("\n");
    const from = folderOf(file.slice(root.length + 1));
    if (from === "relay" && file.includes("/gen/")) continue;
    for (const match of source.matchAll(IMPORT)) {
      const resolved = new URL(match[1], new URL(file, `file://${Deno.cwd()}/`));
      if (!resolved.href.startsWith(base.href)) {
        violations.push({ file, target: match[1], reason: `leaves ${root}/` });
        continue;
      }
      const to = folderOf(resolved.href.slice(base.href.length));
      if (to === from) continue;
      const fromLayer = LAYERS[from];
      const toLayer = LAYERS[to];
      if (fromLayer === undefined || toLayer === undefined) {
        const unknown = fromLayer === undefined ? from : to;
        violations.push({
          file,
          target: match[1],
          reason: `${root}/${unknown} has no layer: add it to LAYERS in scripts/check_imports.ts`,
        });
      } else if (toLayer >= fromLayer) {
        violations.push({
          file,
          target: match[1],
          reason: `${from} (layer ${fromLayer}) may not import ${to} (layer ${toLayer})`,
        });
      }
    }
  }
  return violations;
}

async function* walkTs(dir: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) yield* walkTs(path);
    else if (entry.isFile && entry.name.endsWith(".ts")) yield path;
  }
}

if (import.meta.main) {
  const violations = await checkImports(Deno.args[0] ?? "lib");
  for (const v of violations) console.error(`${v.file}: import "${v.target}": ${v.reason}`);
  if (violations.length > 0) {
    console.error(`${violations.length} import(s) point the wrong way`);
    Deno.exit(1);
  }
  console.log("imports: every dependency points down");
}
