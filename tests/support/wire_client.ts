// A raw protocol client for end-to-end tests: sends frames, matches responses by seq, collects
// pushes (roster updates apart from the rest), and can write arbitrary bytes.

import { encodeFrame, FrameDecoder } from "../../lib/codec.ts";
import { type Frame, MsgId } from "../../lib/protocol.ts";

export class WireClient {
  readonly #conn: Deno.Conn;
  readonly #decoder = new FrameDecoder(64 * 1024 * 1024);
  readonly #waiting = new Map<number, (frame: Frame) => void>();
  readonly #unmatched: Frame[] = [];
  readonly #waiters: Array<() => void> = [];
  /** Pushes other than roster updates: chat messages, notices. */
  readonly pushes: Frame[] = [];
  /** Roster updates: PRESENCE (17) and ROSTER (18) pushes. */
  readonly updates: Frame[] = [];
  readonly errors: Frame[] = [];
  #seq = 0;
  /** Resolves when the server closes the connection. */
  readonly closed: Promise<void>;

  private constructor(conn: Deno.Conn) {
    this.#conn = conn;
    this.closed = this.#readLoop();
  }

  static async connect(port: number, hostname = "127.0.0.1"): Promise<WireClient> {
    return new WireClient(await Deno.connect({ hostname, port }));
  }

  /** A client over TLS, trusting `caCert` (PEM); the handshake is done when this resolves. */
  static async connectTls(
    port: number,
    caCert: string,
    hostname = "localhost",
  ): Promise<WireClient> {
    const conn = await Deno.connectTls({ hostname, port, caCerts: [caCert] });
    await conn.handshake();
    return new WireClient(conn);
  }

  async #readLoop(): Promise<void> {
    const buffer = new Uint8Array(64 * 1024);
    try {
      while (true) {
        const count = await this.#conn.read(buffer);
        if (count === null) return;
        for (const decoded of this.#decoder.push(buffer.subarray(0, count))) {
          if (decoded.kind === "frame") this.#onFrame(decoded.frame);
        }
      }
    } catch {
      // Connection reset: treated as closed.
    } finally {
      for (const wake of this.#waiters.splice(0)) wake();
    }
  }

  #onFrame(frame: Frame): void {
    const seq = frame.seq;
    const waiter = typeof seq === "number" ? this.#waiting.get(seq) : undefined;
    if (waiter) {
      this.#waiting.delete(seq as number);
      waiter(frame);
    } else if (frame.msgid === 12) {
      this.errors.push(frame);
    } else if (typeof seq === "number") {
      this.#unmatched.push(frame);
    } else if (frame.msgid === MsgId.PRESENCE || frame.msgid === MsgId.ROSTER) {
      this.updates.push(frame);
    } else {
      this.pushes.push(frame);
    }
    for (const wake of this.#waiters.splice(0)) wake();
  }

  /** Sends a request with a fresh seq and waits for its response. */
  async request(frame: Frame, timeoutMs = 10_000): Promise<Frame> {
    const seq = ++this.#seq;
    const response = new Promise<Frame>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(seq);
        reject(new Error(`no response to ${JSON.stringify(frame)} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiting.set(seq, (reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
    });
    await this.writeBytes(encodeFrame({ ...frame, seq }));
    return response;
  }

  async writeBytes(bytes: Uint8Array): Promise<void> {
    let written = 0;
    while (written < bytes.length) written += await this.#conn.write(bytes.subarray(written));
  }

  /** Waits until `predicate` holds (re-checked on every frame) or the deadline passes. */
  async until(predicate: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  async register(name: string, password = "pw"): Promise<number> {
    const reply = await this.request({ msgid: 4, name, password });
    if (reply.errno !== 0) throw new Error(`register ${name} failed: ${JSON.stringify(reply)}`);
    return reply.id as number;
  }

  login(id: number, password = "pw"): Promise<Frame> {
    return this.request({ msgid: 1, id, password });
  }

  close(): void {
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
  }
}
