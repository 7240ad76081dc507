// The chat core, independent of any transport: one factory builds the dispatcher's dependencies
// (stores, presence, delivery, redelivery, sessions, login throttle) and the bus wiring, and the
// core serves any connection with its stream of requests: each request gets its one answer, a
// bad one an ERROR, an oversize one ERROR errno 7 and the end of the connection, and a closed
// connection's user goes offline. Transports (lib/tcp_transport.ts, lib/ws_transport.ts) only
// accept connections and frame what goes over them.

import type { Bus, Presence } from "./cluster/types.ts";
import { Delivery } from "./delivery.ts";
import { dispatch, errorFrame } from "./dispatcher.ts";
import { Errno } from "./errors.ts";
import { endSession } from "./handlers/account.ts";
import { KnownUsers } from "./known_users.ts";
import type { ChatDeps, PasswordHasher } from "./handlers/context.ts";
import type { Logger } from "./log.ts";
import { LogThrottle } from "./log_throttle.ts";
import type { ServerMetrics } from "./metrics.ts";
import { type Frame, MsgId } from "./protocol.ts";
import { LoginThrottle } from "./rate_limit.ts";
import { LoginDeadlines } from "./login_deadline.ts";
import { Redelivery } from "./redelivery.ts";
import { DEFAULT_REGISTER_LIMIT, RegistrationLimit } from "./registration_limit.ts";
import { SessionTokens } from "./session_tokens.ts";
import { routeBusMessage } from "./roster/bus_route.ts";
import { Roster } from "./roster/roster.ts";
import { type Connection, type Inbound, type Session, SessionRegistry } from "./session.ts";
import type { Timers } from "./shared_deadline.ts";
import type { Repositories } from "./store/types.ts";

export interface ChatCoreOptions {
  store: Repositories;
  presence: Presence;
  bus: Bus;
  passwords: PasswordHasher;
  log: Logger;
  /** Largest accepted request, bytes (named in the answer to a larger one). */
  maxFrame: number;
  /** The server's clock (pushes, ACKs, the login throttle). The system clock by default. */
  now?: () => Date;
  /** Close connections silent for this long, in ms; 0 keeps them forever. Default 90 s. */
  idleTimeoutMs?: number;
  /** How long a direct write may take before its session is late (lib/direct_writer.ts). */
  directWriteMs?: number;
  /** How long to wait for another server's report of a direct write (lib/direct_remote.ts). */
  directReportMs?: number;
  /** The timers of those deadlines; the system's by default (tests pass their own). */
  timers?: Timers;
  /** Where the core reports what it counts; none by default. */
  metrics?: ServerMetrics;
  /** How long an unused session token stays valid, ms. Default 30 days. */
  tokenTtlMs?: number;
  /** Accounts one source address may register per hour; 0: no limit. Default 20. */
  registerLimit?: number;
  /**
   * Most connections served at once, all transports together; past it a new connection gets
   * ERROR errno 7 and is closed, and those connected are untouched. No limit by default.
   */
  maxConnections?: number;
  /** Close connections not logged in this long after they opened or logged out, ms; 0: never. */
  loginTimeoutMs?: number;
}

/** Default time a connection has to log in: 30 s. */
export const DEFAULT_LOGIN_TIMEOUT_MS = 30_000;
/** How long a refused connection's ERROR may take to be written before it is closed anyway. */
const REFUSAL_WAIT_MS = 1000;

/** Sent to every client when the server shuts down. */
export const SHUTDOWN_NOTICE: Frame = {
  msgid: MsgId.NOTICE,
  notice: "shutdown",
  errmsg: "this server is shutting down; reconnect to continue",
};

/** How long shutdown waits for the notice to be written before closing connections anyway. */
const NOTICE_WAIT_MS = 1000;

/** Builds the chat core of one server from its backends. Nothing runs until start(). */
export function createChatCore(options: ChatCoreOptions): ChatCore {
  const now = options.now ?? (() => new Date());
  const clock = () => now().getTime();
  const sessions = new SessionRegistry();
  const warnings = new LogThrottle(options.log);
  const delivery = new Delivery({
    sessions,
    presence: options.presence,
    bus: options.bus,
    store: options.store,
    warnings,
    metrics: options.metrics,
    directWriteMs: options.directWriteMs,
    directReportMs: options.directReportMs,
    timers: options.timers,
  });
  const redelivery = new Redelivery({
    sessions,
    delivery,
    presence: options.presence,
    messages: options.store.messages,
    log: options.log,
    metrics: options.metrics,
  });
  const deps: ChatDeps = {
    store: options.store,
    presence: options.presence,
    delivery,
    roster: new Roster({
      presence: options.presence,
      bus: options.bus,
      log: options.log,
      warnings,
      metrics: options.metrics,
    }),
    sessions,
    knownUsers: new KnownUsers(),
    passwords: options.passwords,
    throttle: new LoginThrottle({ now: clock }),
    tokens: new SessionTokens({
      store: options.store.tokens,
      ttlMs: options.tokenTtlMs,
      now: clock,
    }),
    registrations: new RegistrationLimit(options.registerLimit ?? DEFAULT_REGISTER_LIMIT, clock),
    now,
    log: options.log,
    warnings,
    metrics: options.metrics,
  };
  return new ChatCore(deps, redelivery, options);
}

export class ChatCore {
  /** What the request handlers get. */
  readonly deps: ChatDeps;
  /** The re-sending of pending messages after a cluster outage. */
  readonly redelivery: Redelivery;
  readonly #options: ChatCoreOptions;
  readonly #connections = new Set<Connection>();
  readonly #serving = new Set<Promise<void>>();
  readonly #loginDeadlines: LoginDeadlines<Connection>;
  #idleSweep: ReturnType<typeof setInterval> | undefined;
  #loginSweep: ReturnType<typeof setInterval> | undefined;
  /** Set while connections are being refused for want of room (logged once per run). */
  #refusing = false;
  #closing = false;

  constructor(deps: ChatDeps, redelivery: Redelivery, options: ChatCoreOptions) {
    this.deps = deps;
    this.redelivery = redelivery;
    this.#options = options;
    this.#loginDeadlines = new LoginDeadlines(this.#loginTimeoutMs);
  }

  get #loginTimeoutMs(): number {
    return this.#options.loginTimeoutMs ?? DEFAULT_LOGIN_TIMEOUT_MS;
  }

  /** Connections being served. */
  get connectionCount(): number {
    return this.#connections.size;
  }

  /**
   * Clears this node's stale presence, subscribes to the bus, re-sends pending messages whenever
   * the bus or presence recovers from an outage, and starts closing idle connections.
   */
  async start(): Promise<void> {
    const { presence, bus } = this.#options;
    await presence.clearStale();
    await bus.subscribe(presence.nodeId, (message) => routeBusMessage(message, this.deps));
    this.redelivery.watch(bus, presence);
    const idleTimeoutMs = this.#options.idleTimeoutMs ?? 90_000;
    if (idleTimeoutMs > 0) {
      this.#idleSweep = setInterval(
        () => this.#closeIdle(idleTimeoutMs),
        Math.min(5_000, idleTimeoutMs / 2),
      );
    }
    const loginTimeoutMs = this.#loginTimeoutMs;
    if (loginTimeoutMs > 0) {
      this.#loginSweep = setInterval(
        () => {
          for (const connection of this.#loginDeadlines.expired()) {
            this.#loginDeadlines.forget(connection);
            connection.close("login timeout");
          }
        },
        Math.min(5_000, loginTimeoutMs / 2),
      );
    }
  }

  /**
   * Serves one connection until its requests end (the peer closed, or the connection was
   * closed), then ends its session and closes it. Never throws.
   */
  serve(connection: Connection, requests: AsyncIterable<Inbound>): Promise<void> {
    if (this.#closing) {
      connection.close("server shutting down");
      return Promise.resolve();
    }
    const full = this.#connections.size >= (this.#options.maxConnections ?? Infinity);
    const serving = (full ? this.#refuse(connection) : this.#serve(connection, requests))
      .finally(() => this.#serving.delete(serving));
    this.#serving.add(serving);
    return serving;
  }

  /** Handles one request on a session, as serve() does each (the test harness calls it). */
  handle(session: Session, request: Frame): Promise<void> {
    return dispatch(session, request, this.deps);
  }

  /** Ends the session's login, as serve() does when a connection closes. Never throws. */
  end(session: Session): Promise<void> {
    return endSession(session, this.deps);
  }

  /**
   * Tells every client the server is shutting down, closes every connection (their users go
   * offline) and the backends. Connections served after this begins are closed at once; the
   * transports stop accepting on their own.
   */
  async close(): Promise<void> {
    this.#closing = true;
    clearInterval(this.#idleSweep);
    clearInterval(this.#loginSweep);
    await this.redelivery.stop();
    const told = [...this.#connections].map((connection) => {
      connection.send(SHUTDOWN_NOTICE);
      return connection.written();
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.all(told),
      new Promise((resolve) => timer = setTimeout(resolve, NOTICE_WAIT_MS)),
    ]);
    clearTimeout(timer);
    for (const connection of this.#connections) connection.close("server shutting down");
    await Promise.allSettled(this.#serving);
    await this.deps.delivery.stop();
    const { presence, bus, store } = this.#options;
    await bus.close();
    await presence.close();
    await store.close();
  }

  #closeIdle(idleTimeoutMs: number): void {
    const cutoff = performance.now() - idleTimeoutMs;
    for (const connection of this.#connections) {
      if (connection.lastActivity < cutoff) connection.close("idle timeout");
    }
  }

  async #serve(connection: Connection, requests: AsyncIterable<Inbound>): Promise<void> {
    const log = this.#options.log.with({ connection: connection.connectionId });
    const { metrics } = this.#options;
    this.#connections.add(connection);
    this.#refusing = false;
    this.#loginDeadlines.update(connection, false);
    log.debug("connection opened", { peer: connection.remoteAddress });
    try {
      for await (const inbound of requests) {
        metrics?.frameIn(inbound);
        if (inbound.kind === "frame") {
          await dispatch(connection, inbound.frame, this.deps);
          this.#loginDeadlines.update(connection, connection.user !== null);
        } else if (inbound.kind === "invalid") {
          if (!connection.admit()) {
            connection.close("flooding invalid frames");
            break;
          }
          connection.send(errorFrame(Errno.BAD_REQUEST, `bad request: ${inbound.reason}`));
        } else {
          connection.send(errorFrame(Errno.TOO_LARGE, this.#oversizeMessage(inbound)));
          await connection.written();
          connection.close("oversize frame");
          break;
        }
      }
    } catch (error) {
      log.error("connection failed", { error });
    } finally {
      const user = connection.user?.id;
      await endSession(connection, this.deps);
      connection.close();
      this.#connections.delete(connection);
      this.#loginDeadlines.forget(connection);
      log.debug("connection closed", { user, reason: connection.closeReason ?? "peer closed" });
    }
  }

  /** Tells a connection past --max-connections so, and closes it; others are untouched. */
  async #refuse(connection: Connection): Promise<void> {
    const limit = this.#options.maxConnections;
    connection.send(
      errorFrame(
        Errno.TOO_LARGE,
        `too many connections: this server serves at most ${limit}; try again later`,
      ),
    );
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      connection.written(),
      new Promise((resolve) => timer = setTimeout(resolve, REFUSAL_WAIT_MS)),
    ]);
    clearTimeout(timer);
    connection.close("connection limit");
    // Once per run of refusals, not once per refused connection (a flood would flood the log).
    if (!this.#refusing) {
      this.#refusing = true;
      this.#options.log.warn("refusing new connections: at --max-connections", { limit });
    }
  }

  #oversizeMessage({ length, hint }: { length: number; hint?: string }): string {
    const refusal = `frame of ${length} bytes exceeds the limit of ${this.#options.maxFrame}`;
    return hint === undefined ? refusal : `${refusal}: ${hint}`;
  }
}
