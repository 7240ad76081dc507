// The client's side of one server connection: writes request frames with a fresh `seq`, matches
// responses to their requests by that `seq`, and hands every other frame (pushes) to a callback.

import { encodeFrame, FrameDecoder } from "../codec.ts";
import type { Frame } from "../protocol.ts";

const READ_BUFFER_BYTES = 16 * 1024;
/** Largest frame accepted from the server: a login reply carrying many offline messages is big. */
const CLIENT_MAX_FRAME = 64 * 1024 * 1024;
const CONNECT_TIMEOUT_MS = 10_000;
/** How rustls reports a TLS connection that ended without its close_notify alert. */
const UNCLEAN_TLS_END = /close_notify/;

/** The server could not be reached. */
export class ConnectError extends Error {
  constructor(address: string, reason: string, options?: { cause?: unknown }) {
    super(`cannot connect to ${address}: ${reason}`, options);
    this.name = "ConnectError";
  }
}

/** The connection has ended; pending and later requests are rejected with this. */
export class ConnectionClosedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConnectionClosedError";
  }
}

export interface ConnectOptions {
  hostname: string;
  port: number;
  /** Speak TLS, trusting the system's CAs or, when given, these PEM certificates instead. */
  tls?: { caCerts?: string[] };
  /** Receives every frame that is not the response to a pending request, in arrival order. */
  onPush: (frame: Frame) => void;
}

interface PendingRequest {
  resolve: (frame: Frame) => void;
  reject: (reason: unknown) => void;
}

/** Opens a connection to the server; throws ConnectError with a one-line reason. */
export async function connect(options: ConnectOptions): Promise<Connection> {
  const { hostname, port } = options;
  const address = hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`;
  const signal = AbortSignal.timeout(CONNECT_TIMEOUT_MS);
  let conn: Deno.Conn;
  try {
    conn = await Deno.connect({ hostname, port, signal });
  } catch (error) {
    throw new ConnectError(address, describeConnectFailure(error), { cause: error });
  }
  if (!options.tls) return new Connection(conn, options.onPush);
  const tls = await Deno.startTls(conn as Deno.TcpConn, {
    hostname,
    caCerts: options.tls.caCerts,
  });
  try {
    await deadline(tls.handshake(), signal);
  } catch (error) {
    tls.close();
    throw new ConnectError(address, describeTlsFailure(error, hostname), { cause: error });
  }
  return new Connection(tls, options.onPush);
}

/** `work`, or a TimeoutError when `signal` aborts first. */
function deadline<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise((resolve, reject) => {
    const abort = () => reject(signal.reason);
    if (signal.aborted) return abort();
    signal.addEventListener("abort", abort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener("abort", abort));
  });
}

/** Why a TLS handshake failed, as one line saying what to do about it. */
function describeTlsFailure(error: unknown, hostname: string): string {
  if (error instanceof DOMException && error.name === "TimeoutError") {
    return "TLS handshake timed out";
  }
  const message = describeIoError(error);
  const certificate = /invalid peer certificate: (\w+)/i.exec(message);
  if (certificate?.[1] === "NotValidForName") {
    return `the server's TLS certificate is not valid for "${hostname}"`;
  }
  if (certificate) {
    return `the server's TLS certificate is not trusted (${certificate[1]}); ` +
      "give the certificate of the CA that signed it with --tls-ca FILE";
  }
  return `TLS handshake failed (${message}); does the server listen with --tls-cert?`;
}

/**
 * A framed connection. `request` sends a frame and resolves with the frame that echoes its `seq`.
 * A response is delivered before any frame that follows it, even one from the same TCP read,
 * so code awaiting a response runs before the next push is handed to `onPush`.
 */
export class Connection {
  /** Resolves once, when the connection ends for any reason, with the error requests now get. */
  readonly closed: Promise<ConnectionClosedError>;
  readonly #conn: Deno.Conn;
  readonly #onPush: (frame: Frame) => void;
  readonly #decoder = new FrameDecoder(CLIENT_MAX_FRAME);
  readonly #pending = new Map<number, PendingRequest>();
  readonly #markClosed: (error: ConnectionClosedError) => void;
  #lastSeq = 0;
  #lastReceivedAt = performance.now();
  #writing: Promise<void> = Promise.resolve();
  #closedError: ConnectionClosedError | null = null;

  constructor(conn: Deno.Conn, onPush: (frame: Frame) => void) {
    this.#conn = conn;
    this.#onPush = onPush;
    const { promise, resolve } = Promise.withResolvers<ConnectionClosedError>();
    this.closed = promise;
    this.#markClosed = resolve;
    this.#readLoop();
  }

  /**
   * Sends `frame` with the next `seq` and resolves with its response. Rejects with
   * ConnectionClosedError if the connection ends first, or with `signal.reason` if aborted
   * (a response arriving later is dropped).
   */
  request(frame: Frame, signal?: AbortSignal): Promise<Frame> {
    if (this.#closedError) return Promise.reject(this.#closedError);
    if (signal?.aborted) return Promise.reject(signal.reason);
    const seq = ++this.#lastSeq;
    const { promise, resolve, reject } = Promise.withResolvers<Frame>();
    const onAbort = () => {
      this.#pending.delete(seq);
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    this.#pending.set(seq, {
      resolve: (response) => {
        signal?.removeEventListener("abort", onAbort);
        resolve(response);
      },
      reject: (reason) => {
        signal?.removeEventListener("abort", onAbort);
        reject(reason);
      },
    });
    this.#write(encodeFrame({ ...frame, seq }));
    return promise;
  }

  /** Closes the connection; pending requests are rejected. Safe to call more than once. */
  close(): void {
    this.#finish(new ConnectionClosedError("connection closed by client"));
  }

  /** Sends a frame that expects no response (no `seq`), e.g. a RECEIPT. */
  notify(frame: Frame): void {
    if (!this.#closedError) this.#write(encodeFrame(frame));
  }

  /** Ends the connection as lost, for `reason` (e.g. the server stopped answering pings). */
  abandon(reason: string): void {
    this.#finish(lostError(reason));
  }

  /** False once the connection has ended. */
  get isOpen(): boolean {
    return this.#closedError === null;
  }

  /** When the last bytes arrived from the server (performance.now() time). */
  get lastReceivedAt(): number {
    return this.#lastReceivedAt;
  }

  #write(bytes: Uint8Array): void {
    this.#writing = this.#writing.then(async () => {
      if (this.#closedError) return;
      try {
        let offset = 0;
        while (offset < bytes.length) offset += await this.#conn.write(bytes.subarray(offset));
      } catch (error) {
        this.#finish(lostError(describeIoError(error)));
      }
    });
  }

  async #readLoop(): Promise<void> {
    const buffer = new Uint8Array(READ_BUFFER_BYTES);
    try {
      while (!this.#closedError) {
        const count = await this.#conn.read(buffer);
        if (count === null) break;
        this.#lastReceivedAt = performance.now();
        const problem = await this.#deliver(buffer.subarray(0, count));
        if (problem) {
          this.#finish(lostError(problem));
          return;
        }
      }
      this.#finish(lostError(""));
    } catch (error) {
      // A TLS peer that dies (or is killed) ends without close_notify: for the user, as a plain
      // end of the connection.
      this.#finish(lostError(UNCLEAN_TLS_END.test(String(error)) ? "" : describeIoError(error)));
    }
  }

  /** Dispatches the frames a chunk completes; returns a description of a protocol violation. */
  async #deliver(chunk: Uint8Array): Promise<string | null> {
    const decoded = [...this.#decoder.push(chunk)];
    for (const [index, item] of decoded.entries()) {
      if (this.#closedError) return null;
      if (item.kind === "oversize") {
        return `server sent a ${item.length}-byte frame (limit ${CLIENT_MAX_FRAME})`;
      }
      if (item.kind === "invalid") return `server sent an invalid frame (${item.reason})`;
      const { frame } = item;
      if (typeof frame.seq !== "number") {
        this.#onPush(frame);
        continue;
      }
      const pending = this.#pending.get(frame.seq);
      if (!pending) continue; // the response to an abandoned request
      this.#pending.delete(frame.seq);
      pending.resolve(frame);
      // Let the code awaiting this response run before the frames that came after it.
      if (index < decoded.length - 1) await new Promise((resolve) => setTimeout(resolve, 0));
    }
    return null;
  }

  #finish(error: ConnectionClosedError): void {
    if (this.#closedError) return;
    this.#closedError = error;
    try {
      this.#conn.close();
    } catch {
      // Already closed by a failed read or write.
    }
    for (const pending of this.#pending.values()) pending.reject(error);
    this.#pending.clear();
    this.#markClosed(error);
  }
}

function lostError(detail: string): ConnectionClosedError {
  return new ConnectionClosedError(
    detail ? `connection to server lost: ${detail}` : "connection to server lost",
  );
}

function describeConnectFailure(error: unknown): string {
  if (error instanceof Deno.errors.ConnectionRefused) return "connection refused";
  if (error instanceof Deno.errors.TimedOut) return "timed out";
  if (error instanceof DOMException && error.name === "TimeoutError") return "timed out";
  const message = describeIoError(error);
  return message.startsWith("failed to lookup address") ? "unknown host" : message;
}

/** An OS error message as one short lowercase phrase, e.g. "connection reset by peer". */
function describeIoError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const phrase = message.replace(/\s*\(os error \d+\)$/, "").split("\n")[0];
  return phrase.charAt(0).toLowerCase() + phrase.slice(1);
}
