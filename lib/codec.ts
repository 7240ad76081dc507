// Length-prefixed JSON framing: a 4-byte big-endian length, then that many bytes of UTF-8 JSON.
// FrameDecoder turns arbitrary byte chunks into decoded frames; it never touches a socket.

import type { Frame } from "./protocol.ts";
import type { FrameEncoding } from "./shared_frame.ts";

const HEADER_BYTES = 4;
const RETAINED_BUFFER_BYTES = 64 * 1024;
const textEncoder = new TextEncoder();
const strictDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** One result of decoding: a frame, a recoverable bad frame, or a fatal oversize header. */
export type Decoded =
  | { kind: "frame"; frame: Frame }
  | { kind: "invalid"; reason: string }
  | { kind: "oversize"; length: number };

/**
 * The 4 header bytes behind an oversize `length` as text, when every one is printable ASCII:
 * what a client of a text protocol (HTTP, telnet, a line of JSON) sends first. Null otherwise.
 */
export function headerText(length: number): string | null {
  const bytes = [length >>> 24, (length >>> 16) & 0xff, (length >>> 8) & 0xff, length & 0xff];
  if (!bytes.every((byte) => byte >= 0x20 && byte <= 0x7e)) return null;
  return String.fromCharCode(...bytes);
}

/** Encodes one object as a frame. */
export function encodeFrame(value: Frame): Uint8Array {
  return encodeJsonFrame(JSON.stringify(value));
}

/**
 * Encodes an already serialised JSON text as a frame, into a buffer of exactly its size (a
 * frame queued for a slow reader pins no more memory than it has bytes).
 */
export function encodeJsonFrame(json: string): Uint8Array {
  const length = utf8Length(json);
  const out = new Uint8Array(HEADER_BYTES + length);
  textEncoder.encodeInto(json, out.subarray(HEADER_BYTES));
  new DataView(out.buffer).setUint32(0, length);
  return out;
}

/** The UTF-8 size of `text` as TextEncoder writes it (a lone surrogate becomes U+FFFD, 3 bytes). */
export function utf8Length(text: string): number {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) continue;
    if (unit < 0x800) {
      bytes += 1;
    } else if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 2; // a pair: 2 units, 4 bytes
        i++;
        continue;
      }
      bytes += 2;
    } else {
      bytes += 2;
    }
  }
  return bytes;
}

/** A shared frame's encoding for connections that speak this framing (lib/shared_frame.ts). */
export const lengthPrefixed: FrameEncoding<Uint8Array> = (_frame, json) => encodeJsonFrame(json);

/**
 * Incremental frame decoder. Feed it chunks with `push`; it yields every frame they complete.
 * A length above `maxFrame` is reported before any of its body is buffered; after that the
 * decoder is unusable (the connection must be closed).
 */
export class FrameDecoder {
  readonly maxFrame: number;
  #buffer: Uint8Array = new Uint8Array(0);
  #start = 0;
  #end = 0;
  #failed = false;

  constructor(maxFrame: number) {
    this.maxFrame = maxFrame;
  }

  /** Bytes received but not yet part of a complete frame. */
  get pendingBytes(): number {
    return this.#end - this.#start;
  }

  *push(chunk: Uint8Array): Generator<Decoded> {
    if (this.#failed) return;
    this.#append(chunk);
    while (this.#end - this.#start >= HEADER_BYTES) {
      const view = this.#buffer;
      const s = this.#start;
      const length = ((view[s] << 24) >>> 0) + (view[s + 1] << 16) + (view[s + 2] << 8) +
        view[s + 3];
      if (length > this.maxFrame) {
        this.#failed = true;
        this.#buffer = new Uint8Array(0);
        this.#start = this.#end = 0;
        yield { kind: "oversize", length };
        return;
      }
      if (this.#end - s - HEADER_BYTES < length) break;
      const body = view.subarray(s + HEADER_BYTES, s + HEADER_BYTES + length);
      this.#start = s + HEADER_BYTES + length;
      yield decodeBody(body);
    }
    if (this.#start === this.#end) {
      this.#start = this.#end = 0;
      // Do not keep a large frame's buffer alive on an idle connection.
      if (this.#buffer.length > RETAINED_BUFFER_BYTES) this.#buffer = new Uint8Array(0);
    }
  }

  #append(chunk: Uint8Array): void {
    const needed = this.#end + chunk.length;
    if (needed > this.#buffer.length) {
      const live = this.#end - this.#start;
      if (live + chunk.length <= this.#buffer.length && this.#start > 0) {
        this.#buffer.copyWithin(0, this.#start, this.#end);
      } else {
        const grown = new Uint8Array(Math.max(live + chunk.length, this.#buffer.length * 2, 256));
        grown.set(this.#buffer.subarray(this.#start, this.#end));
        this.#buffer = grown;
      }
      this.#start = 0;
      this.#end = live;
    }
    this.#buffer.set(chunk, this.#end);
    this.#end += chunk.length;
  }
}

function decodeBody(body: Uint8Array): Decoded {
  if (body.length === 0) return { kind: "invalid", reason: "empty frame" };
  let text: string;
  try {
    text = strictDecoder.decode(body);
  } catch {
    return { kind: "invalid", reason: "frame is not valid UTF-8" };
  }
  return decodeJson(text);
}

/** Decodes the JSON text of one frame (or one WebSocket text message). */
export function decodeJson(text: string): Decoded {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { kind: "invalid", reason: "frame is not valid JSON" };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { kind: "invalid", reason: "frame must be a JSON object" };
  }
  return { kind: "frame", frame: value as Frame };
}
