/**
 * Filesystem methods and path helpers.
 * @module
 */
export { pathFromUri, uriFromPath } from "./path_uri.ts";
