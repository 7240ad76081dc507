// Frame bytes in tests: decoding a buffer of whole frames, and joining byte arrays.

import { FrameDecoder } from "../../lib/codec.ts";
import type { Frame } from "../../lib/protocol.ts";

export function decodeFrames(bytes: Uint8Array): Frame[] {
  const frames: Frame[] = [];
  for (const decoded of new FrameDecoder(Number.MAX_SAFE_INTEGER).push(bytes)) {
    if (decoded.kind !== "frame") throw new Error(`not a frame: ${JSON.stringify(decoded)}`);
    frames.push(decoded.frame);
  }
  return frames;
}

/** The parts one after another in one array. */
export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
