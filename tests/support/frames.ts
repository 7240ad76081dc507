// Decodes a byte buffer holding whole frames (for tests).

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
