/**
 * `file:` URI <-> native path conversion compatible with the Rust `url` crate's
 * `Url::from_file_path` (spec §1.6). Inputs may also be plain absolute paths (legacy clients).
 * @module
 */
import { invalidParams, invalidRequest } from "../jsonrpc/errors.ts";

// Bytes the url crate leaves unescaped in a path segment of a special (file:) URL; everything
// else is %XX. A backslash is escaped (%5C): unescaped, URL parsers read it as a separator.
const KEEP = new Set(
  Array.from(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:@[]^|",
  ).map((c) => c.charCodeAt(0)),
);
const encoder = new TextEncoder();
const HOST_OS = Deno.build.os === "darwin" ? "macos" : Deno.build.os;
const strictDecoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Encodes an absolute native POSIX path as a `file:` URI.
 *
 * @example
 * ```ts
 * uriFromPath("/tmp/a b"); // "file:///tmp/a%20b"
 * ```
 */
export function uriFromPath(path: string): string {
  if (path.includes("\0")) {
    const b64 = btoa(String.fromCharCode(...encoder.encode(path)))
      .replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
    return `file:///%00/bad/path/${b64}`;
  }
  let out = "file://";
  for (const byte of encoder.encode(path)) {
    if (byte === 0x2f || KEEP.has(byte)) out += String.fromCharCode(byte);
    else out += "%" + byte.toString(16).toUpperCase().padStart(2, "0");
  }
  return out;
}

/**
 * Decodes a `file:` URI or a plain absolute path into a native path.
 * Unparsable input is -32602 (like a failed deserialization); a Windows-convention URI on this
 * POSIX host is -32600 (`InvalidInput`). A lone UTF-16 surrogate (which the URL parser would
 * silently turn into U+FFFD, naming another file) or a NUL byte (which no syscall accepts) is
 * -32602 too: upstream's JSON parser refuses the first and its URI check the second.
 *
 * @example
 * ```ts
 * pathFromUri("file:///tmp/a%20b"); // "/tmp/a b"
 * pathFromUri("/tmp/x"); // "/tmp/x"
 * ```
 */
export function pathFromUri(input: string): string {
  if (!input.isWellFormed()) {
    throw invalidParams(
      `invalid path \`${escapeForMessage(input)}\`: it contains a lone UTF-16 surrogate, ` +
        "which is not a character; send the path as valid Unicode (or %-encoded UTF-8 bytes)",
    );
  }
  const path = decode(input);
  if (path.includes("\0")) {
    throw invalidParams(
      `'${escapeForMessage(input)}' is invalid on '${HOST_OS}': a path cannot contain a NUL byte`,
    );
  }
  return path;
}

// Shows control characters and surrogates as \uXXXX so the message itself stays valid text.
function escapeForMessage(input: string): string {
  return input.replace(
    // deno-lint-ignore no-control-regex -- matching control characters is the point
    /[\u0000-\u001f]|[\ud800-\udfff]/gu,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

function decode(input: string): string {
  if (!/^file:/i.test(input)) {
    if (input.startsWith("/")) return input;
    throw invalidParams(
      `invalid path \`${input}\`: expected a file: URI or an absolute path`,
    );
  }
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw invalidParams(`invalid file URI \`${input}\``);
  }
  // A UNC authority or a drive letter is a Windows path: valid URI, wrong host (upstream text).
  if ((url.host !== "" && url.host !== "localhost") || /^\/[A-Za-z]:(\/|$)/.test(url.pathname)) {
    throw invalidRequest(`'${input}' is invalid on '${HOST_OS}'`);
  }
  const raw = url.pathname;
  // The parser percent-encodes everything outside ASCII: without a `%` the path is the text.
  if (!raw.includes("%")) return raw;
  const bytes: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === "%" && /^[0-9A-Fa-f]{2}$/.test(raw.slice(i + 1, i + 3))) {
      bytes.push(parseInt(raw.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(...encoder.encode(raw[i]));
    }
  }
  try {
    return strictDecoder.decode(new Uint8Array(bytes));
  } catch {
    throw invalidRequest(`file URI \`${input}\` does not decode to a UTF-8 path`);
  }
}
