/**
 * "Did you mean" for mistyped commands and flags, by edit distance (npm `fastest-levenshtein`).
 * @module
 */
import { closest, distance } from "fastest-levenshtein";

/**
 * The candidate closest to `word` when it is close enough to be a typo (at most 2 edits, at
 * most half the word; never for one-letter flags, where everything is one edit away), else
 * `undefined`.
 *
 * @example
 * ```ts
 * import { suggest } from "./_suggest.ts";
 * suggest("serv", ["serve", "remote", "exec"]); // "serve"
 * suggest("banana", ["serve", "remote"]); // undefined
 * ```
 */
export function suggest(word: string, candidates: readonly string[]): string | undefined {
  if (candidates.length === 0) return undefined;
  const best = closest(word, [...candidates]);
  const edits = distance(word, best);
  return word.length > 2 && edits <= Math.min(2, Math.floor(word.length / 2)) ? best : undefined;
}

/**
 * ` (did you mean \`X\`?)`, or nothing: ready to append to an error message.
 *
 * @example
 * ```ts
 * import { didYouMean } from "./_suggest.ts";
 * `unknown command \`exce\`${didYouMean("exce", ["exec", "fs"])}`; // "... (did you mean `exec`?)"
 * ```
 */
export function didYouMean(word: string, candidates: readonly string[]): string {
  const best = suggest(word, candidates);
  return best === undefined ? "" : ` (did you mean \`${best}\`?)`;
}
