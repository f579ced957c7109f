/**
 * `serve`'s websocket auth flags (upstream's `--ws-auth …` set) turned into a
 * {@link WebSocketAuthConfig}, with upstream's startup error texts.
 * @module
 */
import { resolve } from "node:path";
import { MIN_SHARED_SECRET_BYTES, sha256, type WebSocketAuthConfig } from "../server/ws_auth.ts";
import { osErrorMessage } from "../util/os_error.ts";
import { UsageError } from "./_args.ts";

/** The raw flag values. */
export interface WsAuthFlags {
  "ws-auth"?: string;
  "ws-token-file"?: string;
  "ws-token-sha256"?: string;
  "ws-shared-secret-file"?: string;
  "ws-issuer"?: string;
  "ws-audience"?: string;
  "ws-max-clock-skew-seconds"?: string;
}

async function readSecret(path: string): Promise<string> {
  const absolute = resolve(path);
  let text: string;
  try {
    text = await Deno.readTextFile(absolute);
  } catch (err) {
    throw new UsageError(
      `failed to read websocket auth secret ${absolute}: ${osErrorMessage(err)}`,
    );
  }
  const secret = text.trim();
  if (secret === "") throw new UsageError(`websocket auth secret ${absolute} must not be empty`);
  return secret;
}

function hexDigest(text: string): Uint8Array {
  if (!/^[0-9a-fA-F]{64}$/.test(text)) {
    throw new UsageError("--ws-token-sha256 must be a 64-character hex SHA-256 digest");
  }
  return Uint8Array.from(text.match(/../g)!, (pair) => parseInt(pair, 16));
}

/**
 * Validates the flags; undefined = no authentication. `--ws-token-file` alone (without
 * `--ws-auth`) still means capability-token, as in our earlier releases.
 *
 * @example
 * ```ts
 * const auth = await wsAuthFromFlags({ "ws-auth": "capability-token", "ws-token-file": "/run/token" });
 * ```
 */
export async function wsAuthFromFlags(
  flags: WsAuthFlags,
): Promise<WebSocketAuthConfig | undefined> {
  const tokenFlags = flags["ws-token-file"] !== undefined ||
    flags["ws-token-sha256"] !== undefined;
  const signedFlags = flags["ws-shared-secret-file"] !== undefined ||
    flags["ws-issuer"] !== undefined || flags["ws-audience"] !== undefined ||
    flags["ws-max-clock-skew-seconds"] !== undefined;
  let mode = flags["ws-auth"];
  if (mode === undefined) {
    if (!tokenFlags && !signedFlags) return undefined;
    if (
      flags["ws-token-file"] !== undefined && flags["ws-token-sha256"] === undefined &&
      !signedFlags
    ) {
      mode = "capability-token";
    } else {
      throw new UsageError(
        "websocket auth flags require `--ws-auth capability-token` or " +
          "`--ws-auth signed-bearer-token`",
      );
    }
  }
  if (mode === "capability-token") {
    if (signedFlags) {
      throw new UsageError(
        "`--ws-shared-secret-file`, `--ws-issuer`, `--ws-audience`, and " +
          "`--ws-max-clock-skew-seconds` require `--ws-auth signed-bearer-token`",
      );
    }
    const file = flags["ws-token-file"];
    const digest = flags["ws-token-sha256"];
    if (file !== undefined && digest !== undefined) {
      throw new UsageError("`--ws-token-file` and `--ws-token-sha256` are mutually exclusive");
    }
    if (digest !== undefined) return { mode, tokenSha256: hexDigest(digest) };
    if (file === undefined) {
      throw new UsageError(
        "`--ws-token-file` or `--ws-token-sha256` is required when " +
          "`--ws-auth capability-token` is set",
      );
    }
    return { mode, tokenSha256: await sha256(await readSecret(file)) };
  }
  if (mode === "signed-bearer-token") {
    if (tokenFlags) {
      throw new UsageError(
        "`--ws-token-file` and `--ws-token-sha256` require `--ws-auth capability-token`, not " +
          "`signed-bearer-token`",
      );
    }
    const file = flags["ws-shared-secret-file"];
    if (file === undefined) {
      throw new UsageError(
        "`--ws-shared-secret-file` is required when `--ws-auth signed-bearer-token` is set",
      );
    }
    const secret = new TextEncoder().encode(await readSecret(file));
    if (secret.length < MIN_SHARED_SECRET_BYTES) {
      throw new UsageError(
        `signed websocket bearer secret ${resolve(file)} must be at least ` +
          `${MIN_SHARED_SECRET_BYTES} bytes`,
      );
    }
    const skewText = flags["ws-max-clock-skew-seconds"] ?? "30";
    if (!/^\d+$/.test(skewText)) {
      throw new UsageError(
        `invalid value '${skewText}' for '--ws-max-clock-skew-seconds <SECONDS>': ` +
          "expected a non-negative integer",
      );
    }
    return {
      mode,
      secret,
      issuer: flags["ws-issuer"],
      audience: flags["ws-audience"],
      maxClockSkewSeconds: Number(skewText),
    };
  }
  throw new UsageError(
    `invalid value '${mode}' for '--ws-auth <MODE>' ` +
      "[possible values: capability-token, signed-bearer-token]",
  );
}
