/**
 * The zod API this project uses, by name (see `zod.ts` for why).
 * @module
 */
export {
  array,
  boolean,
  discriminatedUnion,
  enum,
  literal,
  looseObject,
  number,
  object,
  output,
  record,
  strictObject,
  string,
  unknown,
  ZodError,
  ZodType,
} from "npm:zod@4.6.7";
