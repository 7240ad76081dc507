// A raw protocol client over WebSocket for end-to-end tests: one JSON text message per request
// (tests/support/protocol_client.ts does the rest), and can send any text or bytes.

import type { Frame } from "../../lib/protocol.ts";
import { ProtocolClient } from "./protocol_client.ts";

export class WsClient extends ProtocolClient {
  readonly #socket: WebSocket;
  /** Resolves with the close code when the connection closes. */
  readonly closed: Promise<number>;

  private constructor(socket: WebSocket) {
    super();
    this.#socket = socket;
    this.closed = new Promise((resolve) => {
      socket.addEventListener("close", (event) => {
        this.wakeWaiters();
        resolve(event.code);
      });
    });
    socket.addEventListener("message", (event) => {
      if (typeof event.data === "string") this.received(JSON.parse(event.data));
    });
  }

  /** Opens ws://host:port/ws (with an Origin header, if given) and waits until it is open. */
  static connect(
    port: number,
    { hostname = "127.0.0.1", origin }: { hostname?: string; origin?: string } = {},
  ): Promise<WsClient> {
    const url = `ws://${hostname}:${port}/ws`;
    const socket = origin === undefined
      ? new WebSocket(url)
      : new WebSocket(url, { headers: { origin } });
    return new Promise((resolve, reject) => {
      socket.addEventListener("open", () => resolve(new WsClient(socket)), { once: true });
      socket.addEventListener("error", (event) => {
        reject(new Error(`cannot open ${url}: ${(event as ErrorEvent).message}`));
      }, { once: true });
    });
  }

  protected sendFrame(frame: Frame): Promise<void> {
    this.#socket.send(JSON.stringify(frame));
    return Promise.resolve();
  }

  /** Sends a message as it is, text or binary. */
  sendRaw(data: string | Uint8Array<ArrayBuffer>): void {
    this.#socket.send(data);
  }

  close(): void {
    this.#socket.close();
  }
}
