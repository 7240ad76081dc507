// One simulated user of the load generator, on the same framed-connection code as the chat
// server (lib/connection.ts): requests are matched to replies by seq; every frame carrying a
// `msg` (chat push or relayed frame) goes to `onPush`; anything else is reported as a problem.

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

  /** Closes the connection and waits for its reader to stop. */
  async close(): Promise<void> {
    this.#closing = true;
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
      } else {
        this.#report(`unexpected frame ${JSON.stringify(frame)}`);
      }
    }
    if (!this.#closing) this.#report("server closed the connection");
    for (const waiter of this.#waiting.values()) waiter.reject(new Error("connection closed"));
    this.#waiting.clear();
  }
}
