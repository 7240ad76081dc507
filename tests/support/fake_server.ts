// A scriptable stand-in for the chat server in client tests: listens on a free port, decodes the
// frames each connection sends and hands them, one at a time, to a handler that answers.

import { encodeFrame, FrameDecoder } from "../../lib/codec.ts";
import type { Frame } from "../../lib/protocol.ts";

/** One accepted client connection, as the handler sees it. */
export interface FakePeer {
  /** Every frame this client sent, in order. */
  readonly received: Frame[];
  /** Sends frames in a single write, so the client reads them coalesced. */
  send(...frames: Frame[]): Promise<void>;
  /** Sends raw bytes as they are. */
  sendBytes(bytes: Uint8Array): Promise<void>;
  close(): void;
}

export type FrameHandler = (frame: Frame, peer: FakePeer) => void | Promise<void>;

export interface FakeServer {
  readonly port: number;
  readonly peers: FakePeer[];
  close(): Promise<void>;
}

export function startFakeServer(handler: FrameHandler): FakeServer {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const peers: Peer[] = [];
  const serving: Promise<void>[] = [];
  const accepting = (async () => {
    try {
      for await (const conn of listener) {
        const peer = new Peer(conn);
        peers.push(peer);
        serving.push(peer.serve(handler));
      }
    } catch {
      // The listener was closed.
    }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    peers,
    async close() {
      listener.close();
      await accepting;
      for (const peer of peers) peer.close();
      await Promise.all(serving);
    },
  };
}

class Peer implements FakePeer {
  readonly received: Frame[] = [];
  readonly #conn: Deno.Conn;
  #closed = false;

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  async serve(handler: FrameHandler): Promise<void> {
    const decoder = new FrameDecoder(1024 * 1024);
    const buffer = new Uint8Array(4096);
    try {
      while (true) {
        const count = await this.#conn.read(buffer);
        if (count === null) break;
        for (const decoded of decoder.push(buffer.slice(0, count))) {
          if (decoded.kind !== "frame") throw new Error(`client sent a bad frame: ${decoded.kind}`);
          this.received.push(decoded.frame);
          await handler(decoded.frame, this);
        }
      }
    } catch (error) {
      if (!this.#closed) throw error;
    } finally {
      this.close();
    }
  }

  send(...frames: Frame[]): Promise<void> {
    const parts = frames.map(encodeFrame);
    const bytes = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
    let offset = 0;
    for (const part of parts) {
      bytes.set(part, offset);
      offset += part.length;
    }
    return this.sendBytes(bytes);
  }

  async sendBytes(bytes: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < bytes.length) offset += await this.#conn.write(bytes.subarray(offset));
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#conn.close();
  }
}
