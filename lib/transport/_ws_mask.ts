/**
 * Gives npm `ws` SIMD masking. `ws` masks (client sends) and unmasks (frames the fast path leaves
 * to it) byte by byte in JS unless `node:http` offers `websocketMask`/`websocketUnmask` (Bun's
 * natives) when `ws` loads; this module puts the arena's versions there, so it must be imported
 * before `ws` (`_ws_lib.ts` does).
 * @module
 */
import http from "node:http";
import { maskInto } from "./_frame_arena.ts";

const hooks = http as unknown as Record<string, unknown>;
hooks.websocketMask ??= maskInto;
hooks.websocketUnmask ??= (buffer: Uint8Array, mask: Uint8Array) =>
  maskInto(buffer, mask, buffer, 0, buffer.length);
