// One protocol connection for load tests: requests matched by seq with a timeout, writes
// serialised (a partial write never interleaves with another frame), and pushes handed to a
// callback in the order they arrived, the pushes inside a login reply at the reply's place.

import { encodeFrame, FrameDecoder } from "../../lib/codec.ts";
import type { Frame } from "../../lib/protocol.ts";

/** Where a push came from: a push frame, or the `offlinemsg` of a login reply. */
export type PushSource = "live" | "login";

export class LinkClosedError extends Error {
  override name = "LinkClosedError";
}

interface Waiter {
  resolve(frame: Frame): void;
  reject(error: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

export class ChatLink {
  readonly #conn: Deno.Conn;
  readonly #decoder = new FrameDecoder(64 * 1024 * 1024);
  readonly #waiting = new Map<number, Waiter>();
  #seq = 0;
  #writing: Promise<void> = Promise.resolve();
  #closed = false;
  /** Called for every chat push (msgid 6 or 10), in arrival order. */
  onPush: (push: Frame, source: PushSource) => void = () => {};
  /** Frames that were neither a response nor a chat push (notices, ERROR without seq). */
  readonly stray: Frame[] = [];
  /** Push frames received so far (not counting those inside login replies). */
  livePushes = 0;
  /** `livePushes` when the last login reply arrived: pushes after it are its `offlinemore`. */
  livePushesAtLogin = 0;
  /** Resolves once the connection is closed, by either side. */
  readonly closed: Promise<void>;

  private constructor(conn: Deno.Conn) {
    this.#conn = conn;
    this.closed = this.#readLoop();
  }

  static async connect(port: number, hostname = "127.0.0.1"): Promise<ChatLink> {
    return new ChatLink(await Deno.connect({ hostname, port }));
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  /**
   * Sends a request with a fresh seq; resolves with its response. Rejects with LinkClosedError
   * when the connection closes first, or with an Error after `timeoutMs`.
   */
  request(frame: Frame, timeoutMs = 10_000): Promise<Frame> {
    if (this.#closed) return Promise.reject(new LinkClosedError("connection closed"));
    const seq = ++this.#seq;
    const response = new Promise<Frame>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(seq);
        reject(new Error(`no response to msgid ${frame.msgid} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiting.set(seq, { resolve, reject, timer });
    });
    this.write(encodeFrame({ ...frame, seq })).catch(() => this.close());
    return response;
  }

  /** Writes bytes after everything written before; rejects when the connection fails. */
  write(bytes: Uint8Array): Promise<void> {
    const conn = this.#conn;
    const next = this.#writing.then(async () => {
      let written = 0;
      while (written < bytes.length) written += await conn.write(bytes.subarray(written));
    });
    this.#writing = next.catch(() => {});
    return next;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
    for (const [seq, waiter] of this.#waiting) {
      clearTimeout(waiter.timer);
      waiter.reject(new LinkClosedError("connection closed"));
      this.#waiting.delete(seq);
    }
  }

  async #readLoop(): Promise<void> {
    const buffer = new Uint8Array(16 * 1024);
    try {
      while (!this.#closed) {
        const count = await this.#conn.read(buffer);
        if (count === null) break;
        for (const decoded of this.#decoder.push(buffer.subarray(0, count))) {
          if (decoded.kind === "frame") this.#onFrame(decoded.frame);
          else this.stray.push({ undecodable: decoded.kind });
        }
      }
    } catch {
      // Reset or closed locally: the connection is over either way.
    } finally {
      this.close();
    }
  }

  #onFrame(frame: Frame): void {
    const seq = frame.seq;
    if (typeof seq === "number" && this.#waiting.has(seq)) {
      const waiter = this.#waiting.get(seq)!;
      this.#waiting.delete(seq);
      clearTimeout(waiter.timer);
      if (frame.msgid === 2 && Array.isArray(frame.offlinemsg)) {
        this.livePushesAtLogin = this.livePushes;
        for (const push of frame.offlinemsg as Frame[]) this.onPush(push, "login");
      }
      waiter.resolve(frame);
    } else if ((frame.msgid === 6 || frame.msgid === 10) && seq === undefined) {
      this.livePushes++;
      this.onPush(frame, "live");
    } else {
      this.stray.push(frame);
    }
  }
}
