// One simulated user of the load generator, on the same framed-connection code as the chat
// server (lib/connection.ts): requests are matched to replies by seq; every frame carrying a
// `msg` (chat push or relayed frame) goes to `onPush`; anything else is reported as a problem.
// A client can stop reading (a slow reader: the server's writes to it back up) and read again.

import { ClientConnection } from "../lib/connection.ts";
import { DEFAULT_MAX_FRAME, type Frame, MsgId } from "../lib/protocol.ts";

export class LoadClient {
  /** Receives pushes during a phase; a push while this is null is a problem. */
  onPush: ((push: Frame) => void) | null = null;
  readonly #connection: ClientConnection;
  readonly #waiting = new Map<number, { resolve(reply: Frame): void; reject(e: Error): void }>();
  readonly #report: (problem: string) => void;
  readonly #reading: Promise<void>;
  #seq = 0;
  #closing = false;
  /** While set, the reader takes no more bytes from the socket until it resolves. */
  #paused: PromiseWithResolvers<void> | null = null;
  /** The server may close this connection without that being a problem (a paused reader). */
  #closeExpected = false;

  private constructor(conn: Deno.TcpConn, report: (problem: string) => void) {
    this.#connection = new ClientConnection(0, conn, { maxFrame: DEFAULT_MAX_FRAME });
    this.#report = report;
    this.#reading = this.#read();
  }

  /** Connects to 127.0.0.1:port; `report` hears every problem seen on this connection. */
  static async connect(port: number, report: (problem: string) => void): Promise<LoadClient> {
    return new LoadClient(await Deno.connect({ hostname: "127.0.0.1", port }), report);
  }

  /** Sends `frame` with a fresh seq; resolves with the reply carrying that seq. */
  request(frame: Frame): Promise<Frame> {
    const seq = ++this.#seq;
    const reply = new Promise<Frame>((resolve, reject) => {
      this.#waiting.set(seq, { resolve, reject });
    });
    this.#connection.send({ ...frame, seq });
    return reply;
  }

  /** Sends `frame` expecting no reply. */
  send(frame: Frame): void {
    this.#connection.send(frame);
  }

  /**
   * Stops taking bytes from the socket (after at most the read already under way), so that what
   * the server writes piles up in the kernel's buffers and then in the server's queue. The
   * server closing the connection from now on is expected, not a problem.
   */
  pauseReading(): void {
    this.#paused ??= Promise.withResolvers<void>();
    this.#closeExpected = true;
  }

  resumeReading(): void {
    this.#paused?.resolve();
    this.#paused = null;
  }

  /** Resolves true once the connection has ended, false if it is still open after `ms`. */
  async endsWithin(ms: number): Promise<boolean> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<boolean>((resolve) => timer = setTimeout(resolve, ms, false));
    const ended = await Promise.race([this.#reading.then(() => true), timeout]);
    clearTimeout(timer);
    return ended;
  }

  /** Closes the connection and waits for its reader to stop. */
  async close(): Promise<void> {
    this.#closing = true;
    this.resumeReading();
    this.#connection.close();
    await this.#reading;
  }

  async #read(): Promise<void> {
    for await (const decoded of this.#connection.frames()) {
      if (decoded.kind !== "frame") {
        this.#report(`undecodable frame from server: ${JSON.stringify(decoded)}`);
        continue;
      }
      const frame = decoded.frame;
      const waiter = typeof frame.seq === "number" ? this.#waiting.get(frame.seq) : undefined;
      if (waiter) {
        this.#waiting.delete(frame.seq as number);
        waiter.resolve(frame);
      } else if (this.onPush && typeof frame.msg === "string" && frame.msgid !== MsgId.ERROR) {
        this.onPush(frame);
      } else if (frame.msgid === MsgId.PRESENCE || frame.msgid === MsgId.ROSTER) {
        // A friend's presence or a roster change: read (it costs what a client pays) and let be.
      } else {
        this.#report(`unexpected frame ${JSON.stringify(frame)}`);
      }
      if (this.#paused) await this.#paused.promise;
    }
    if (!this.#closing && !this.#closeExpected) this.#report("server closed the connection");
    for (const waiter of this.#waiting.values()) waiter.reject(new Error("connection closed"));
    this.#waiting.clear();
  }
}
