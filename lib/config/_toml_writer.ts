/**
 * Writes a parsed TOML document back as text in the layout of upstream's writer (the Rust `toml`
 * crate): a table's plain keys first, then its sub-tables as `[a.b]` sections and arrays of
 * tables as `[[a]]`, inline arrays as `["x", "y"]`, integers and floats kept apart. The parsing
 * itself is smol-toml's; this only prints, so the projection Codex reads back means the same
 * thing as the file it came from.
 * @module
 */
import type { TomlDate } from "smol-toml";

/** A parsed TOML table (smol-toml with `integersAsBigInt: true`: integers are bigints). */
export type TomlTable = { [key: string]: TomlValue };
/** A parsed TOML value. */
export type TomlValue = string | number | bigint | boolean | TomlDate | TomlValue[] | TomlTable;

function isTable(value: TomlValue): value is TomlTable {
  return typeof value === "object" && value !== null && !Array.isArray(value) &&
    !(value instanceof Date);
}

function isArrayOfTables(value: TomlValue): value is TomlTable[] {
  return Array.isArray(value) && value.length > 0 && value.every(isTable);
}

function key(name: string): string {
  return /^[A-Za-z0-9_-]+$/.test(name) ? name : basicString(name);
}

function basicString(text: string): string {
  let out = '"';
  for (const char of text) {
    const code = char.codePointAt(0)!;
    if (char === '"') out += '\\"';
    else if (char === "\\") out += "\\\\";
    else if (char === "\n") out += "\\n";
    else if (char === "\t") out += "\\t";
    else if (char === "\r") out += "\\r";
    else if (char === "\b") out += "\\b";
    else if (char === "\f") out += "\\f";
    else if (code < 0x20 || code === 0x7f) out += `\\u${code.toString(16).padStart(4, "0")}`;
    else out += char;
  }
  return out + '"';
}

// deno-lint-ignore no-control-regex
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f]/;

function string(text: string): string {
  if (text.includes("\n") && !CONTROL.test(text) && !text.includes('"""') && !text.includes("\\")) {
    return `"""\n${text}"""`;
  }
  // A literal string avoids escaping quotes and backslashes when it can hold the text as is.
  if (
    (text.includes('"') || text.includes("\\")) && !text.includes("'") && !/[\n\r]/.test(text) &&
    !CONTROL.test(text)
  ) {
    return `'${text}'`;
  }
  return basicString(text);
}

function float(value: number): string {
  if (Number.isNaN(value)) return "nan";
  if (!Number.isFinite(value)) return value > 0 ? "inf" : "-inf";
  if (Object.is(value, -0)) return "-0.0";
  // Rust prints floats without an exponent; integral ones keep a `.0` so they stay floats.
  const text = String(value);
  const big = /^(-?)(\d)(?:\.(\d+))?e\+(\d+)$/.exec(text);
  if (big) {
    const [, sign, lead, rest = "", exponent] = big;
    return `${sign}${lead}${rest.padEnd(Number(exponent), "0")}.0`;
  }
  return Number.isInteger(value) ? `${text}.0` : text;
}

function inline(value: TomlValue): string {
  if (typeof value === "string") return string(value);
  if (typeof value === "bigint") return value.toString();
  if (typeof value === "number") return float(value);
  if (typeof value === "boolean") return String(value);
  // smol-toml prints milliseconds always; the source (and upstream) has them only when given.
  if (value instanceof Date) return value.toISOString().replace(/(:\d\d)\.000(?=Z|[+-]|$)/, "$1");
  if (Array.isArray(value)) return `[${value.map(inline).join(", ")}]`;
  const entries = Object.entries(value);
  if (entries.length === 0) return "{}";
  return `{ ${entries.map(([name, item]) => `${key(name)} = ${inline(item)}`).join(", ")} }`;
}

function section(out: string[], path: string[], table: TomlTable, header: "table" | "array") {
  const plain = Object.entries(table).filter(([, v]) => !isTable(v) && !isArrayOfTables(v));
  const nested = Object.entries(table).filter(([, v]) => isTable(v) || isArrayOfTables(v));
  const named = path.map(key).join(".");
  // An intermediate table with only sub-tables needs no header of its own (`[mcp_servers]`).
  if (header === "array") out.push(`[[${named}]]\n`);
  else if (path.length > 0 && (plain.length > 0 || nested.length === 0)) out.push(`[${named}]\n`);
  for (const [name, value] of plain) out.push(`${key(name)} = ${inline(value)}\n`);
  for (const [name, value] of nested) {
    if (isArrayOfTables(value)) {
      for (const item of value) {
        separate(out);
        section(out, [...path, name], item, "array");
      }
    } else {
      separate(out);
      section(out, [...path, name], value as TomlTable, "table");
    }
  }
}

function separate(out: string[]): void {
  if (out.length > 0 && out[out.length - 1] !== "\n") out.push("\n");
}

/**
 * Prints a table as a TOML document.
 *
 * @example
 * ```ts
 * writeToml({ model: "m", mcp_servers: { x: { url: "http://127.0.0.1:1/mcp" } } });
 * // 'model = "m"\n\n[mcp_servers.x]\nurl = "http://127.0.0.1:1/mcp"\n'
 * ```
 */
export function writeToml(table: TomlTable): string {
  const out: string[] = [];
  section(out, [], table, "table");
  const text = out.join("");
  return text.endsWith("\n\n") ? text.slice(0, -1) : text;
}
