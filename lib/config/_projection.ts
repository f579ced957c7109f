/**
 * Keeps only the requested key paths of a TOML table, in the file's order.
 * @module
 */
import type { TomlTable, TomlValue } from "./_toml_writer.ts";

interface Trie {
  end: boolean;
  children: Map<string, Trie>;
}

function trieOf(paths: string[][]): Trie {
  const root: Trie = { end: false, children: new Map() };
  for (const path of paths) {
    let node = root;
    for (const segment of path) {
      let child = node.children.get(segment);
      if (!child) node.children.set(segment, child = { end: false, children: new Map() });
      node = child;
    }
    node.end = true;
  }
  return root;
}

function isTable(value: TomlValue): value is TomlTable {
  return typeof value === "object" && value !== null && !Array.isArray(value) &&
    !(value instanceof Date);
}

function select(table: TomlTable, node: Trie): TomlTable {
  const out: TomlTable = {};
  for (const [name, value] of Object.entries(table)) {
    const child = node.children.get(name);
    if (!child) continue;
    // A path that runs past a plain value keeps that value, as upstream does (`model.x` → model).
    if (child.end || !isTable(value)) {
      out[name] = value;
      continue;
    }
    const inner = select(value, child);
    if (Object.keys(inner).length > 0) out[name] = inner;
  }
  return out;
}

/**
 * The sub-document of `table` holding only `paths` (each a non-empty list of key segments);
 * empty when none of them is present.
 *
 * @example
 * ```ts
 * projectTable({ model: "m", mcp_servers: { x: { url: "u" } } }, [["mcp_servers"]]);
 * // { mcp_servers: { x: { url: "u" } } }
 * ```
 */
export function projectTable(table: TomlTable, paths: string[][]): TomlTable {
  return select(table, trieOf(paths));
}
