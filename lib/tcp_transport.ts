// The TCP transport: accepts connections on a listener and hands each one, with its decoded
// length-prefixed frames, to the chat core. At the open-files limit it pauses accepting
// (lib/accept_backoff.ts) rather than spinning. Stops accepting when its signal aborts.

import { AcceptBackoff } from "./accept_backoff.ts";
import { ClientConnection } from "./connection.ts";
import type { ChatCore } from "./core.ts";
import type { Logger } from "./log.ts";
import type { ServerMetrics } from "./metrics.ts";

export interface TcpTransportOptions {
  maxFrame: number;
  log: Logger;
  /** Size of each connection's read buffer; lib/connection.ts's default unless given. */
  readBufferBytes?: number;
  /** Requests per second per connection, on average (bursts of twice that). Default 200. */
  requestRate?: number;
  metrics?: ServerMetrics;
}

/** How an accept that failed for want of file descriptors (EMFILE, ENFILE) reads. */
const OPEN_FILES_EXHAUSTED = /too many open files/i;

export class TcpTransport {
  readonly #core: ChatCore;
  readonly #listener: Deno.Listener;
  readonly #options: TcpTransportOptions;
  readonly #acceptBackoff = new AcceptBackoff();
  readonly #accepting: Promise<void>;
  #nextConnectionId: () => number;
  /** Ends the accept loop's pause after a failed accept at once (set while it pauses). */
  #endPause: (() => void) | null = null;

  /**
   * Serves `listener` (plain TCP or TLS) until `signal` aborts. `nextConnectionId` numbers the
   * connections, shared with the server's other transports.
   */
  constructor(
    core: ChatCore,
    listener: Deno.Listener,
    options: TcpTransportOptions & { nextConnectionId: () => number; signal: AbortSignal },
  ) {
    this.#core = core;
    this.#listener = listener;
    this.#options = options;
    this.#nextConnectionId = options.nextConnectionId;
    options.signal.addEventListener("abort", () => {
      listener.close();
      this.#endPause?.();
    }, { once: true });
    this.#accepting = options.signal.aborted ? Promise.resolve() : this.#acceptLoop();
  }

  /** The port the transport listens on (useful with port 0). */
  get port(): number {
    return (this.#listener.addr as Deno.NetAddr).port;
  }

  /** Resolves when the accept loop has stopped (after the signal aborted). */
  get finished(): Promise<void> {
    return this.#accepting;
  }

  async #acceptLoop(): Promise<void> {
    const { log, metrics } = this.#options;
    while (true) {
      let conn: Deno.Conn;
      try {
        conn = await this.#listener.accept();
      } catch (error) {
        if (error instanceof Deno.errors.BadResource) return;
        metrics?.acceptFailed();
        const { pauseMs, first } = this.#acceptBackoff.failed();
        if (first) {
          log.warn("accept failed; pausing new connections until one is accepted", {
            error,
            connections: this.#core.connectionCount,
            ...(OPEN_FILES_EXHAUSTED.test(String(error))
              ? {
                hint: "the process is at its open-files limit: raise it (ulimit -n, LimitNOFILE)",
              }
              : {}),
          });
        }
        await this.#pause(pauseMs);
        continue;
      }
      const failures = this.#acceptBackoff.succeeded();
      if (failures > 0) {
        log.info("accepting connections again", {
          failedAccepts: failures,
          connections: this.#core.connectionCount,
        });
      }
      let connection: ClientConnection;
      try {
        connection = new ClientConnection(this.#nextConnectionId(), conn, {
          maxFrame: this.#options.maxFrame,
          readBufferBytes: this.#options.readBufferBytes,
          requestRate: this.#options.requestRate,
          requestBurst: this.#options.requestRate === undefined
            ? undefined
            : this.#options.requestRate * 2,
          metrics,
        });
      } catch (error) {
        log.error("could not set up a connection", { error });
        conn.close();
        continue;
      }
      void this.#core.serve(connection, connection.frames());
    }
  }

  /** Waits `ms` before the next accept; the signal ends the wait early. */
  #pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const end = () => {
        clearTimeout(timer);
        this.#endPause = null;
        resolve();
      };
      const timer = setTimeout(end, ms);
      this.#endPause = end;
    });
  }
}
