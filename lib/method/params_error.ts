/**
 * Turns a zod validation failure into upstream's serde-style text (`missing field \`processId\``),
 * so clients see the messages they already know.
 * @module
 */
import type { z } from "zod";
import { invalidParams } from "../jsonrpc/errors.ts";

function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "sequence";
  switch (typeof value) {
    case "string":
      return `string ${JSON.stringify(value)}`;
    case "number":
      return Number.isInteger(value) ? `integer \`${value}\`` : `floating point \`${value}\``;
    case "boolean":
      return `boolean \`${value}\``;
    case "object":
      return "map";
    default:
      return "unit value";
  }
}

const EXPECTED: Record<string, string> = {
  string: "a string",
  number: "a number",
  int: "an integer",
  boolean: "a boolean",
  array: "a sequence",
  object: "a map",
  record: "a map",
};

function fieldName(path: PropertyKey[]): string {
  return path.map(String).join(".");
}

/**
 * Formats the first issue of a failed parse.
 *
 * @example
 * ```ts
 * import { invalidParams } from "../jsonrpc/errors.ts";
 * import { z } from "zod";
 * const schema = z.object({ processId: z.string() });
 * const params: unknown = { processId: 7 };
 * const r = schema.safeParse(params, { reportInput: true });
 * if (!r.success) throw invalidParams(formatParamsError(r.error));
 * ```
 */
export function formatParamsError(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return "invalid params";
  const last = issue.path[issue.path.length - 1];
  const where = issue.path.length > 0 ? ` at \`${fieldName(issue.path)}\`` : "";
  const input = (issue as { input?: unknown }).input;
  switch (issue.code) {
    case "invalid_type":
      if (input === undefined && last !== undefined && typeof last !== "number") {
        return `missing field \`${String(last)}\``;
      }
      return `invalid type: ${describeValue(input)}, expected ${
        EXPECTED[issue.expected] ?? issue.expected
      }${where}`;
    case "invalid_value": {
      const names = issue.values.map((v) => `\`${String(v)}\``);
      // serde's wording: "`a`", "`a` or `b`", "one of `a`, `b`, `c`".
      const expected = names.length <= 2 ? names.join(" or ") : `one of ${names.join(", ")}`;
      if (typeof input !== "string") {
        return `invalid type: ${describeValue(input)}, expected ${expected}${where}`;
      }
      return `unknown variant \`${input}\`, expected ${expected}${where}`;
    }
    case "too_small":
    case "too_big": {
      const bound = issue.code === "too_small" ? `>= ${issue.minimum}` : `<= ${issue.maximum}`;
      return `invalid value: ${describeValue(input)}, expected a value ${bound}${where}`;
    }
    default:
      return `${issue.message}${where}`;
  }
}

/**
 * Validates params against a method's schema: the parsed value, or -32602 with upstream's text
 * ({@linkcode formatParamsError}).
 *
 * @throws {import("../jsonrpc/errors.ts").RpcError} -32602 when `raw` does not match.
 * @example
 * ```ts
 * import { z } from "zod";
 * parseParams(z.object({ processId: z.string() }), { processId: "p1" }); // { processId: "p1" }
 * ```
 */
export function parseParams<S extends z.ZodType>(schema: S, raw: unknown): z.output<S> {
  const parsed = schema.safeParse(raw, { reportInput: true });
  if (!parsed.success) throw invalidParams(formatParamsError(parsed.error));
  return parsed.data;
}
