// A raw protocol client over TCP for end-to-end tests: frames requests with the length prefix,
// and can write arbitrary bytes (tests/support/protocol_client.ts does the rest).

import { encodeFrame, FrameDecoder } from "../../lib/codec.ts";
import type { Frame } from "../../lib/protocol.ts";
import { ProtocolClient } from "./protocol_client.ts";

export class WireClient extends ProtocolClient {
  readonly #conn: Deno.Conn;
  readonly #decoder = new FrameDecoder(64 * 1024 * 1024);
  /** Resolves when the server closes the connection. */
  readonly closed: Promise<void>;

  private constructor(conn: Deno.Conn) {
    super();
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
          if (decoded.kind === "frame") this.received(decoded.frame);
        }
      }
    } catch {
      // Connection reset: treated as closed.
    } finally {
      this.wakeWaiters();
    }
  }

  protected sendFrame(frame: Frame): Promise<void> {
    return this.writeBytes(encodeFrame(frame));
  }

  async writeBytes(bytes: Uint8Array): Promise<void> {
    let written = 0;
    while (written < bytes.length) written += await this.#conn.write(bytes.subarray(written));
  }

  close(): void {
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
  }
}
