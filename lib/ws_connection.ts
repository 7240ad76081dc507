// One client's WebSocket connection: one JSON object per text message, each way. Messages
// arrive as events, with no backpressure, so those not handled yet wait in a bounded queue; a
// client that overruns it is disconnected. Writes go to the socket at once; its bufferedAmount
// says how far behind the client is, and one that stops reading is disconnected.

import { decodeJson } from "./codec.ts";
import type { ServerMetrics } from "./metrics.ts";
import type { Frame } from "./protocol.ts";
import { TokenBucket } from "./rate_limit.ts";
import type { Connection, Inbound } from "./session.ts";
import type { SharedFrame } from "./shared_frame.ts";

export interface WebSocketConnectionOptions {
  /** Largest accepted message, bytes of UTF-8. */
  maxFrame: number;
  /** Outbound bytes a connection may have buffered before it is cut off. Default 8 MiB. */
  maxQueuedBytes?: number;
  /** Messages received and not handled yet before the connection is cut off. Default 1024. */
  maxQueuedRequests?: number;
  /** Requests per second allowed on average, and in a burst. Default 200 and 400. */
  requestRate?: number;
  requestBurst?: number;
  /** Counts the frames sent. */
  metrics?: ServerMetrics;
}

/** Checks of bufferedAmount while someone waits for written(): first after this, doubling. */
const WRITTEN_POLL_FIRST_MS = 1;
const WRITTEN_POLL_MAX_MS = 32;

const BINARY_REFUSED: Inbound = {
  kind: "invalid",
  reason: "binary messages are not accepted: send each request as one JSON text message",
};

export class WebSocketConnection implements Connection {
  readonly connectionId: number;
  readonly remoteAddress: string;
  readonly remoteHost: string;
  user: { id: number; name: string } | null = null;
  receipts = false;
  tokenHash: string | null = null;
  lastActivity = performance.now();
  closeReason: string | null = null;
  readonly #socket: WebSocket;
  readonly #maxFrame: number;
  readonly #maxQueuedBytes: number;
  readonly #maxQueuedRequests: number;
  readonly #requests: TokenBucket;
  readonly #metrics: ServerMetrics | undefined;
  readonly #closing = new AbortController();
  readonly #inbound: Inbound[] = [];
  /** Wakes requests() when a message arrives or the connection ends. */
  #wake: (() => void) | null = null;
  #ended = false;
  /** Bytes ever handed to the socket: written() waits until all but bufferedAmount are out. */
  #sentTotal = 0;
  #waiters: { mark: number; resolve: (written: boolean) => void }[] = [];
  #pollTimer: ReturnType<typeof setTimeout> | undefined;
  #pollMs = WRITTEN_POLL_FIRST_MS;
  readonly #encoder = new TextEncoder();

  /** `remote` is the client's address: host alone (for per-address limits), and host:port. */
  constructor(
    connectionId: number,
    socket: WebSocket,
    remote: { host: string; address: string },
    options: WebSocketConnectionOptions,
  ) {
    this.connectionId = connectionId;
    this.remoteHost = remote.host;
    this.remoteAddress = remote.address;
    this.#socket = socket;
    this.#maxFrame = options.maxFrame;
    this.#maxQueuedBytes = options.maxQueuedBytes ?? 8 * 1024 * 1024;
    this.#maxQueuedRequests = options.maxQueuedRequests ?? 1024;
    this.#requests = new TokenBucket(options.requestRate ?? 200, options.requestBurst ?? 400);
    this.#metrics = options.metrics;
    socket.addEventListener("message", (event) => this.#received(event.data));
    socket.addEventListener("close", () => this.#end());
    socket.addEventListener("error", () => this.close("socket error"));
  }

  get closed(): boolean {
    return this.#closing.signal.aborted;
  }

  get signal(): AbortSignal {
    return this.#closing.signal;
  }

  get unwrittenBytes(): number {
    return this.closed ? 0 : this.#socket.bufferedAmount;
  }

  send(frame: Frame): void {
    if (this.closed) return;
    this.#metrics?.frameOut(frame);
    this.#write(JSON.stringify(frame));
  }

  sendShared(frame: SharedFrame): void {
    if (!this.closed) this.#write(frame.json);
  }

  admit(): boolean {
    return this.#requests.take();
  }

  written(): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    const mark = this.#sentTotal;
    if (this.#writtenTotal() >= mark) return Promise.resolve(true);
    const { promise, resolve } = Promise.withResolvers<boolean>();
    this.#waiters.push({ mark, resolve });
    this.#pollMs = WRITTEN_POLL_FIRST_MS;
    this.#pollTimer ??= setTimeout(() => this.#poll(), this.#pollMs);
    return promise;
  }

  /** What the client sent, one message at a time, until the connection ends. */
  async *requests(): AsyncGenerator<Inbound> {
    while (true) {
      const next = this.#inbound.shift();
      if (next) {
        yield next;
        continue;
      }
      if (this.#ended || this.closed) return;
      await new Promise<void>((resolve) => this.#wake = resolve);
      this.#wake = null;
    }
  }

  close(reason?: string): void {
    if (this.closed) return;
    this.closeReason = reason ?? null;
    this.#closing.abort();
    this.#inbound.length = 0;
    clearTimeout(this.#pollTimer);
    for (const waiter of this.#waiters.splice(0)) waiter.resolve(false);
    try {
      this.#socket.close(1000, reason?.slice(0, 120));
    } catch {
      // Not open any more.
    }
    this.#end();
  }

  #received(data: unknown): void {
    if (this.closed) return;
    this.lastActivity = performance.now();
    if (this.#inbound.length >= this.#maxQueuedRequests) {
      this.close("inbound queue overflow: client sends faster than it is served");
      return;
    }
    this.#inbound.push(typeof data === "string" ? this.#decode(data) : BINARY_REFUSED);
    this.#wake?.();
  }

  #decode(text: string): Inbound {
    // A UTF-16 unit is 1 to 3 bytes of UTF-8: measure exactly only when it could matter.
    if (text.length * 3 > this.#maxFrame) {
      const length = text.length > this.#maxFrame ? text.length : this.#encoder.encode(text).length;
      if (length > this.#maxFrame) return { kind: "oversize", length };
    }
    return decodeJson(text);
  }

  #write(text: string): void {
    const before = this.#socket.bufferedAmount;
    try {
      this.#socket.send(text);
    } catch {
      this.close("write failed");
      return;
    }
    // send() adds the message's UTF-8 length to bufferedAmount at once; it drops as it leaves.
    const after = this.#socket.bufferedAmount;
    this.#sentTotal += after - before;
    if (after > this.#maxQueuedBytes) {
      this.close("outbound queue overflow: client is not reading");
    }
  }

  /** Bytes of the socket's, counted as #sentTotal counts them, that have left. */
  #writtenTotal(): number {
    return this.#sentTotal - this.#socket.bufferedAmount;
  }

  #poll(): void {
    this.#pollTimer = undefined;
    if (this.closed) return;
    const written = this.#writtenTotal();
    let done = 0;
    while (done < this.#waiters.length && this.#waiters[done].mark <= written) done++;
    for (const waiter of this.#waiters.splice(0, done)) waiter.resolve(true);
    if (this.#waiters.length === 0) return;
    this.#pollMs = Math.min(2 * this.#pollMs, WRITTEN_POLL_MAX_MS);
    this.#pollTimer = setTimeout(() => this.#poll(), this.#pollMs);
  }

  #end(): void {
    this.#ended = true;
    this.#wake?.();
  }
}
