/**
 * `followSymlinks: false` texts shared by the methods (the race-free walk itself is in
 * `_held_directory.ts`).
 * @module
 */

/**
 * Text upstream answers when the final component of a no-follow path is a symlink.
 *
 * @example
 * ```ts
 * declare const err: Error;
 * declare function retryWithFollow(): void;
 * if (err.message.startsWith(PATH_CONTAINS_SYMLINK)) retryWithFollow();
 * ```
 */
export const PATH_CONTAINS_SYMLINK = "path contains a symbolic link";
