// A frame handed to many sessions at once (a chat push for every recipient of a message). Each
// transport encodes it at most once, on first use, and every session of that transport shares
// the result: the core never builds transport bytes itself.

import type { Frame } from "./protocol.ts";

/** How one transport turns a frame into what it writes (bytes, a text message, ...); never undefined. */
export type FrameEncoding<T> = (frame: Frame, json: string) => T;

export class SharedFrame<F extends Frame = Frame> {
  readonly frame: F;
  #json: string | undefined;
  /** The first encoding made, kept apart: one comparison per recipient in the common case. */
  #firstEncoding: FrameEncoding<unknown> | undefined;
  #firstEncoded: unknown;
  /** Encodings made for other transports: at most one entry per transport. */
  #otherEncoded: Map<FrameEncoding<unknown>, unknown> | undefined;

  constructor(frame: F) {
    this.frame = frame;
  }

  /** The frame as JSON text, serialised once. */
  get json(): string {
    return this.#json ??= JSON.stringify(this.frame);
  }

  /** The frame as `encoding` makes it, made on the first call for that encoding. */
  encodedAs<T>(encoding: FrameEncoding<T>): T {
    if (this.#firstEncoding === encoding) return this.#firstEncoded as T;
    if (this.#firstEncoding === undefined) {
      this.#firstEncoding = encoding;
      return (this.#firstEncoded = encoding(this.frame, this.json)) as T;
    }
    this.#otherEncoded ??= new Map();
    const made = this.#otherEncoded.get(encoding);
    if (made !== undefined) return made as T;
    const value = encoding(this.frame, this.json);
    this.#otherEncoded.set(encoding, value);
    return value;
  }
}
