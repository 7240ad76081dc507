// What every raw protocol client of the tests does, whatever carries its frames: sends
// requests with a fresh seq and matches responses by it, collects pushes (roster updates apart
// from the rest) and ERROR frames, and waits for what a test expects. tests/support/wire_client.ts (TCP) and ws_client.ts (WebSocket)
// carry the frames.

import { type Frame, MsgId } from "../../lib/protocol.ts";

export abstract class ProtocolClient {
  readonly #waiting = new Map<number, (frame: Frame) => void>();
  readonly #unmatched: Frame[] = [];
  readonly #waiters: Array<() => void> = [];
  /** Pushes other than roster updates: chat messages, notices. */
  readonly pushes: Frame[] = [];
  /** Roster updates: PRESENCE (17) and ROSTER (18) pushes. */
  readonly updates: Frame[] = [];
  readonly errors: Frame[] = [];
  #seq = 0;

  /** Sends one request frame as the transport carries it. */
  protected abstract sendFrame(frame: Frame): Promise<void>;

  /** Hands a frame the server sent to whoever waits for it. */
  protected received(frame: Frame): void {
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
    this.wakeWaiters();
  }

  /** Re-checks every until() (the connection closed, say). */
  protected wakeWaiters(): void {
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
    await this.sendFrame({ ...frame, seq });
    return response;
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
}
