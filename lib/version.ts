/** The release version, embedded in binaries and reported as `executorVersion`. */
export const VERSION = "0.1.0";
