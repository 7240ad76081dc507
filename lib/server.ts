// The chat server: accepts TCP connections, feeds each one's frames to the dispatcher in order,
// answers bad frames with ERROR, re-sends pending messages when the cluster backend recovers,
// and on shutdown stops accepting, ends every session and closes its backends.

import type { Bus } from "./cluster/types.ts";
import { headerText } from "./codec.ts";
import { ClientConnection } from "./connection.ts";
import { Delivery } from "./delivery.ts";
import { dispatch, errorFrame } from "./dispatcher.ts";
import { Errno } from "./errors.ts";
import { endSession } from "./handlers/account.ts";
import type { ChatDeps, PasswordHasher } from "./handlers/context.ts";
import type { Logger } from "./log.ts";
import type { ServerMetrics } from "./metrics.ts";
import type { Presence } from "./cluster/types.ts";
import { Redelivery } from "./redelivery.ts";
import { SessionRegistry } from "./session.ts";
import type { Repositories } from "./store/types.ts";
import { MsgId } from "./protocol.ts";
import { LoginThrottle } from "./rate_limit.ts";
import { AcceptBackoff } from "./accept_backoff.ts";

export interface ChatServerOptions {
  hostname: string;
  port: number;
  maxFrame: number;
  store: Repositories;
  presence: Presence;
  bus: Bus;
  passwords: PasswordHasher;
  log: Logger;
  now?: () => Date;
  readBufferBytes?: number;
  /** Close connections silent for this long, in ms; 0 keeps them forever. Default 90 s. */
  idleTimeoutMs?: number;
  /** Requests per second per connection, on average. Default 200 (bursts of twice that). */
  requestRate?: number;
  /** Where the server reports what it counts; none by default. */
  metrics?: ServerMetrics;
}

/** How an accept that failed for want of file descriptors (EMFILE, ENFILE) reads. */
const OPEN_FILES_EXHAUSTED = /too many open files/i;

/** Sent to every client when the server shuts down. */
const SHUTDOWN_NOTICE = {
  msgid: MsgId.NOTICE,
  notice: "shutdown",
  errmsg: "this server is shutting down; reconnect to continue",
};

export class ChatServer {
  readonly deps: ChatDeps;
  readonly #options: ChatServerOptions;
  readonly #redelivery: Redelivery;
  readonly #connections = new Set<ClientConnection>();
  readonly #handlers = new Set<Promise<void>>();
  #listener: Deno.TcpListener | null = null;
  #accepting: Promise<void> | null = null;
  #nextConnectionId = 1;
  readonly #acceptBackoff = new AcceptBackoff();
  /** Ends the accept loop's pause after a failed accept at once (set while it pauses). */
  #endPause: (() => void) | null = null;
  #idleSweep: ReturnType<typeof setInterval> | undefined;

  constructor(options: ChatServerOptions) {
    this.#options = options;
    const sessions = new SessionRegistry();
    const delivery = new Delivery({
      sessions,
      presence: options.presence,
      bus: options.bus,
      messages: options.store.messages,
      log: options.log,
      metrics: options.metrics,
    });
    this.#redelivery = new Redelivery({
      sessions,
      delivery,
      presence: options.presence,
      messages: options.store.messages,
      log: options.log,
      metrics: options.metrics,
    });
    this.deps = {
      store: options.store,
      presence: options.presence,
      delivery,
      sessions,
      passwords: options.passwords,
      throttle: new LoginThrottle(),
      now: options.now ?? (() => new Date()),
      log: options.log,
      metrics: options.metrics,
    };
  }

  /** The port the server listens on (useful with port 0). */
  get port(): number {
    if (!this.#listener) throw new Error("Cannot read port: server is not listening");
    return this.#listener.addr.port;
  }

  get connectionCount(): number {
    return this.#connections.size;
  }

  /**
   * Clears this node's stale presence, subscribes to the bus, starts listening, and re-sends
   * pending messages whenever the bus or presence recovers from an outage.
   */
  async start(): Promise<void> {
    const { presence, bus, hostname, port } = this.#options;
    await presence.clearStale();
    await bus.subscribe(presence.nodeId, (envelope) => {
      void this.deps.delivery.receive(envelope);
    });
    this.#redelivery.watch(bus, presence);
    this.#listener = Deno.listen({ hostname, port, transport: "tcp" });
    this.#accepting = this.#acceptLoop(this.#listener);
    const idleTimeoutMs = this.#options.idleTimeoutMs ?? 90_000;
    if (idleTimeoutMs > 0) {
      this.#idleSweep = setInterval(
        () => this.#closeIdle(idleTimeoutMs),
        Math.min(5_000, idleTimeoutMs / 2),
      );
    }
  }

  /** Stops accepting, ends every session (marking users offline) and closes the backends. */
  async shutdown(): Promise<void> {
    clearInterval(this.#idleSweep);
    await this.#redelivery.stop();
    this.#listener?.close();
    this.#endPause?.();
    await this.#accepting;
    const told = [...this.#connections].map((connection) => {
      connection.send(SHUTDOWN_NOTICE);
      return connection.written();
    });
    await Promise.race([Promise.all(told), new Promise((resolve) => setTimeout(resolve, 1000))]);
    for (const connection of this.#connections) connection.close("server shutting down");
    await Promise.allSettled(this.#handlers);
    const { presence, bus, store } = this.#options;
    await bus.close();
    await presence.close();
    await store.close();
  }

  async #acceptLoop(listener: Deno.TcpListener): Promise<void> {
    while (true) {
      let conn: Deno.TcpConn;
      try {
        conn = await listener.accept();
      } catch (error) {
        if (error instanceof Deno.errors.BadResource) return;
        this.#options.metrics?.acceptFailed();
        const { pauseMs, first } = this.#acceptBackoff.failed();
        if (first) {
          this.#options.log.warn("accept failed; pausing new connections until one is accepted", {
            error,
            connections: this.#connections.size,
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
        this.#options.log.info("accepting connections again", {
          failedAccepts: failures,
          connections: this.#connections.size,
        });
      }
      let connection: ClientConnection;
      try {
        connection = new ClientConnection(this.#nextConnectionId++, conn, {
          maxFrame: this.#options.maxFrame,
          readBufferBytes: this.#options.readBufferBytes,
          requestRate: this.#options.requestRate,
          requestBurst: this.#options.requestRate === undefined
            ? undefined
            : this.#options.requestRate * 2,
          metrics: this.#options.metrics,
        });
      } catch (error) {
        this.#options.log.error("could not set up a connection", { error });
        conn.close();
        continue;
      }
      const handling = this.#serve(connection).finally(() => this.#handlers.delete(handling));
      this.#handlers.add(handling);
    }
  }

  /** Waits `ms` before the next accept; shutdown() ends the wait early. */
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

  #closeIdle(idleTimeoutMs: number): void {
    const cutoff = performance.now() - idleTimeoutMs;
    for (const connection of this.#connections) {
      if (connection.lastActivity < cutoff) connection.close("idle timeout");
    }
  }

  async #serve(connection: ClientConnection): Promise<void> {
    const log = this.#options.log.with({ connection: connection.connectionId });
    this.#connections.add(connection);
    log.debug("connection opened", { peer: connection.remoteAddress });
    try {
      for await (const decoded of connection.frames()) {
        this.deps.metrics?.frameIn(decoded);
        if (decoded.kind === "frame") {
          await dispatch(connection, decoded.frame, this.deps);
        } else if (decoded.kind === "invalid") {
          if (!connection.admit()) {
            connection.close("flooding invalid frames");
            break;
          }
          connection.send(errorFrame(Errno.BAD_REQUEST, `bad request: ${decoded.reason}`));
        } else {
          connection.send(
            errorFrame(Errno.TOO_LARGE, oversizeMessage(decoded.length, this.#options.maxFrame)),
          );
          await connection.written();
          connection.close("oversize frame");
        }
      }
    } catch (error) {
      log.error("connection failed", { error });
    } finally {
      const user = connection.user?.id;
      await endSession(connection, this.deps);
      connection.close();
      this.#connections.delete(connection);
      log.debug("connection closed", { user, reason: connection.closeReason ?? "peer closed" });
    }
  }
}

/** The error text for a frame header above the limit, with a hint when it was plain text. */
function oversizeMessage(length: number, maxFrame: number): string {
  const text = headerText(length);
  const refusal = `frame of ${length} bytes exceeds the limit of ${maxFrame}`;
  if (text === null) return refusal;
  return `${refusal}: the connection began with the text ${JSON.stringify(text)}, ` +
    "but this port speaks the chat protocol (a 4-byte big-endian length, then JSON), " +
    "not a text protocol such as HTTP";
}
