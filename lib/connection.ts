// One client's TCP connection (plain or TLS): reads bytes into decoded frames, and writes queued frames in
// batches (one write for everything ready), looping over partial writes. A client that stops
// reading until its queue passes the limit is disconnected, so it cannot hold others back.

import { encodeFrame, FrameDecoder, headerText, lengthPrefixed } from "./codec.ts";
import type { ServerMetrics } from "./metrics.ts";
import type { Frame } from "./protocol.ts";
import { TokenBucket } from "./rate_limit.ts";
import type { Connection, Inbound } from "./session.ts";
import type { SharedFrame } from "./shared_frame.ts";

/**
 * Outbound bytes a connection may have waiting (queued, or in the write under way) before it is
 * cut off, unless told otherwise.
 */
export const DEFAULT_MAX_QUEUED_BYTES = 8 * 1024 * 1024;

/**
 * Most bytes of queued frames one write takes (they are copied into one buffer): what a reader
 * that stopped reading holds beyond its queue is one such copy, not a copy of the whole queue.
 */
export const MAX_BATCH_BYTES = 256 * 1024;

export interface ConnectionOptions {
  maxFrame: number;
  /** Size of the per-connection read buffer. Default 4 KiB (memory per idle connection). */
  readBufferBytes?: number;
  /** Outbound bytes a connection may have waiting before it is cut off. Default 8 MiB. */
  maxQueuedBytes?: number;
  /** Requests per second allowed on average, and in a burst. Default 200 and 400. */
  requestRate?: number;
  requestBurst?: number;
  /** Counts the frames sent. */
  metrics?: ServerMetrics;
}

export class ClientConnection implements Connection {
  readonly connectionId: number;
  user: { id: number; name: string } | null = null;
  receipts = false;
  tokenHash: string | null = null;
  /** performance.now() of the last bytes received. */
  lastActivity = performance.now();
  readonly #conn: Deno.Conn;
  readonly #decoder: FrameDecoder;
  readonly #readBufferBytes: number;
  readonly #maxQueuedBytes: number;
  #queue: Uint8Array[] = [];
  /** Bytes ever queued, and ever written: written() waits for the first to reach the second. */
  #queuedTotal = 0;
  #writtenTotal = 0;
  /** Callers of written(), each waiting until #writtenTotal reaches its mark (marks ascend). */
  #waiters: { mark: number; resolve: (written: boolean) => void }[] = [];
  #flushing: Promise<void> | null = null;
  #closed = false;
  readonly #closing = new AbortController();
  readonly #requests: TokenBucket;
  readonly #metrics: ServerMetrics | undefined;
  /** Why the connection was closed by the server, if it was. */
  closeReason: string | null = null;

  constructor(connectionId: number, conn: Deno.Conn, options: ConnectionOptions) {
    this.connectionId = connectionId;
    this.#conn = conn;
    this.#decoder = new FrameDecoder(options.maxFrame);
    this.#readBufferBytes = options.readBufferBytes ?? 4096;
    this.#maxQueuedBytes = options.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES;
    this.#requests = new TokenBucket(options.requestRate ?? 200, options.requestBurst ?? 400);
    this.#metrics = options.metrics;
    if ("setNoDelay" in conn) (conn as Deno.TcpConn).setNoDelay(true);
  }

  get closed(): boolean {
    return this.#closed;
  }

  get signal(): AbortSignal {
    return this.#closing.signal;
  }

  get remoteHost(): string {
    return (this.#conn.remoteAddr as Deno.NetAddr).hostname;
  }

  get remoteAddress(): string {
    const addr = this.#conn.remoteAddr as Deno.NetAddr;
    return `${addr.hostname}:${addr.port}`;
  }

  send(frame: Frame): void {
    if (!this.#closed) this.#metrics?.frameOut(frame);
    this.#enqueue(encodeFrame(frame));
  }

  sendShared(frame: SharedFrame): void {
    this.#enqueue(frame.encodedAs(lengthPrefixed));
  }

  #enqueue(bytes: Uint8Array): void {
    if (this.#closed) return;
    this.#queue.push(bytes);
    this.#queuedTotal += bytes.length;
    if (this.unwrittenBytes > this.#maxQueuedBytes) {
      this.close("outbound queue overflow: client is not reading");
      return;
    }
    this.#flushing ??= this.#flush();
  }

  /**
   * Decoded frames until the peer closes or the connection is closed. An oversize header that
   * reads as text says so: the peer speaks a text protocol (HTTP, telnet, a line of JSON).
   */
  async *frames(): AsyncGenerator<Inbound> {
    const buffer = new Uint8Array(this.#readBufferBytes);
    while (!this.#closed) {
      let count: number | null;
      try {
        count = await this.#conn.read(buffer);
      } catch {
        count = null;
      }
      if (count === null) return;
      this.lastActivity = performance.now();
      for (const decoded of this.#decoder.push(buffer.subarray(0, count))) {
        yield decoded.kind === "oversize" ? withTextHint(decoded.length) : decoded;
      }
    }
  }

  admit(): boolean {
    return this.#requests.take();
  }

  get unwrittenBytes(): number {
    return this.#queuedTotal - this.#writtenTotal;
  }

  written(): Promise<boolean> {
    if (this.#closed) return Promise.resolve(false);
    const mark = this.#queuedTotal;
    if (this.#writtenTotal >= mark) return Promise.resolve(true);
    return new Promise((resolve) => this.#waiters.push({ mark, resolve }));
  }

  close(reason?: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closing.abort();
    this.closeReason = reason ?? null;
    this.#queue = [];
    for (const waiter of this.#waiters.splice(0)) waiter.resolve(false);
    try {
      this.#conn.close();
    } catch {
      // Already closed by the peer.
    }
  }

  async #flush(): Promise<void> {
    try {
      while (this.#queue.length > 0 && !this.#closed) {
        const batch = this.#takeBatch();
        let written = 0;
        while (written < batch.length) {
          written += await this.#conn.write(batch.subarray(written));
        }
        this.#wrote(batch.length);
      }
    } catch {
      this.close("write failed");
    } finally {
      this.#flushing = null;
    }
  }

  /** Takes the first frames of the queue, at most MAX_BATCH_BYTES of them (at least one). */
  #takeBatch(): Uint8Array {
    let count = 0;
    let bytes = 0;
    while (
      count < this.#queue.length &&
      (count === 0 || bytes + this.#queue[count].length <= MAX_BATCH_BYTES)
    ) {
      bytes += this.#queue[count++].length;
    }
    const chunks = this.#queue.splice(0, count);
    return concat(chunks, bytes);
  }

  /** Counts `bytes` as written and wakes the written() callers they complete. */
  #wrote(bytes: number): void {
    this.#writtenTotal += bytes;
    let done = 0;
    while (done < this.#waiters.length && this.#waiters[done].mark <= this.#writtenTotal) done++;
    for (const waiter of this.#waiters.splice(0, done)) waiter.resolve(true);
  }
}

function withTextHint(length: number): Inbound {
  const text = headerText(length);
  if (text === null) return { kind: "oversize", length };
  const hint = `the connection began with the text ${JSON.stringify(text)}, ` +
    "but this port speaks the chat protocol (a 4-byte big-endian length, then JSON), " +
    "not a text protocol such as HTTP";
  return { kind: "oversize", length, hint };
}

function concat(chunks: Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}
