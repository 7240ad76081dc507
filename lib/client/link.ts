// Keeps the client connected. The Link owns the current Connection and watches it with a
// heartbeat; when it is lost the Link reconnects with backoff, logs the user in again and shows
// what arrived meanwhile, or gives up after the reconnect timeout. Every chat push passes
// through the Inbox on its way to the terminal: shown once by mid, then acknowledged.

import { type Frame, MsgId, type RosterUpdate } from "../protocol.ts";
import { backoffDelay } from "./backoff.ts";
import { loginFrame, type LoginIdentity } from "./commands.ts";
import { connect, type Connection, ConnectionClosedError } from "./connection.ts";
import { type HeartbeatOptions, watchHeartbeat } from "./heartbeat.ts";
import { Inbox } from "./inbox.ts";
import { formatFailure, formatLoginSummary, formatPush, formatUnsolicited } from "./render.ts";
import {
  errnoOf,
  type LoginResult,
  readChatPush,
  readLoginAck,
  readRosterUpdate,
} from "./replies.ts";
import type { ClientView } from "./view.ts";

export interface LinkOptions {
  hostname: string;
  port: number;
  /** Speak TLS (see connect()). */
  tls?: { caCerts?: string[] };
  /** How long to keep trying to reconnect after losing the server, ms; 0 never tries. */
  reconnectTimeoutMs: number;
  heartbeat: HeartbeatOptions;
  /** Shows a line to the user. */
  print: (text: string) => void;
  random?: () => number;
}

/** What the Link logs in again with: the account and its session token, never the password. */
export interface Credentials {
  identity: LoginIdentity;
  token: string;
}

/** How long a login after reconnecting may take. */
const RELOGIN_TIMEOUT_MS = 10_000;
/** Login refusals that may pass by themselves: still online (until the old session lapses),
 * rate limited, server error. */
const TRANSIENT_LOGIN_ERRNOS = new Set([2, 8, 9]);

export class Link {
  /** Called with the new view after logging in again, or null when that login was refused. */
  onRelogin: (view: ClientView | null) => void = () => {};
  /** Called with each roster update (PRESENCE, ROSTER) the server pushes. */
  onUpdate: (update: RosterUpdate) => void = () => {};
  /** Resolves, with the error the session ends on, when the Link gives up reconnecting. */
  readonly givenUp: Promise<ConnectionClosedError>;
  readonly #options: LinkOptions;
  readonly #inbox: Inbox;
  readonly #waiters = new Set<(error: ConnectionClosedError) => void>();
  readonly #giveUp: (error: ConnectionClosedError) => void;
  #current!: Connection;
  #recovery: Promise<Connection> | null = null;
  #credentials: Credentials | null = null;
  #finalError: ConnectionClosedError | null = null;
  #closing = false;
  #sleepTimer: ReturnType<typeof setTimeout> | undefined;

  /** Connects to the server; throws ConnectError with a one-line reason. */
  static async open(options: LinkOptions): Promise<Link> {
    const link = new Link(options);
    link.#adopt(await link.#connect());
    return link;
  }

  private constructor(options: LinkOptions) {
    this.#options = options;
    this.#inbox = new Inbox((mids) => this.#current.notify({ msgid: MsgId.RECEIPT, mids }));
    const { promise, resolve } = Promise.withResolvers<ConnectionClosedError>();
    this.givenUp = promise;
    this.#giveUp = resolve;
  }

  /** The connection in use (perhaps closed, while reconnecting). */
  get current(): Connection {
    return this.#current;
  }

  /** True once the Link has given up; nothing will work any more. */
  get gaveUp(): boolean {
    return this.#finalError !== null;
  }

  /** The open connection, after reconnecting if needed; rejects when the Link gives up. */
  ready(): Promise<Connection> {
    if (this.#finalError) return Promise.reject(this.#finalError);
    if (this.#current.isOpen) return Promise.resolve(this.#current);
    // The close handler registered in #adopt runs first and starts the recovery.
    return this.#current.closed.then((error) => this.#recovery ?? Promise.reject(error));
  }

  /** Waits for `work`, but rejects with the final error as soon as the Link gives up. */
  guard<T>(work: Promise<T>): Promise<T> {
    if (this.#finalError) return Promise.reject(this.#finalError);
    return new Promise<T>((resolve, reject) => {
      this.#waiters.add(reject);
      work.then(resolve, reject).finally(() => this.#waiters.delete(reject));
    });
  }

  /**
   * Records a successful login (the account and the reply's session token are kept to log in
   * again after a reconnect; the password is not) and returns it with the offline messages
   * already shown left out.
   */
  loggedIn(reply: Frame, identity: LoginIdentity): LoginResult {
    const login = readLoginAck(reply);
    this.#credentials = login.token === null ? null : { identity, token: login.token };
    return { ...login, offline: login.offline.filter((push) => this.#inbox.receive(push.mid)) };
  }

  /** The password changed: the server revoked the old token and gave this one. */
  tokenReplaced(token: string): void {
    if (this.#credentials) this.#credentials = { ...this.#credentials, token };
  }

  /** Forgets the credentials and sends the receipts still waiting, before a LOGOUT. */
  loggedOut(): void {
    this.#inbox.flush();
    this.#credentials = null;
  }

  close(): void {
    this.#closing = true;
    clearTimeout(this.#sleepTimer);
    this.#inbox.flush();
    this.#current.close();
  }

  #connect(): Promise<Connection> {
    const { hostname, port, tls } = this.#options;
    return connect({ hostname, port, tls, onPush: (frame) => this.#onPush(frame) });
  }

  #adopt(connection: Connection): void {
    this.#current = connection;
    watchHeartbeat(connection, this.#options.heartbeat);
    connection.closed.then((error) => {
      if (this.#current !== connection || this.#closing) return;
      this.#recovery = this.#recover(error);
      this.#recovery.catch(() => {}).finally(() => this.#recovery = null);
    });
  }

  #onPush(frame: Frame): void {
    const push = readChatPush(frame);
    if (push) {
      if (this.#inbox.receive(push.mid)) this.#options.print(formatPush(push));
      return;
    }
    const update = readRosterUpdate(frame);
    if (update) return this.onUpdate(update);
    const line = formatUnsolicited(frame);
    if (line !== null) this.#options.print(line);
  }

  async #recover(lost: ConnectionClosedError): Promise<Connection> {
    this.#inbox.dropUnsent();
    const { reconnectTimeoutMs } = this.#options;
    if (reconnectTimeoutMs <= 0) throw this.#end(lost);
    // Logged out (at the menu), a lost connection is quietly replaced: the server closes
    // connections that stay logged out (--login-timeout), and there is nothing to resume.
    const quiet = this.#credentials === null;
    const print = quiet ? () => {} : this.#options.print;
    print(`${lost.message}; reconnecting...`);
    const started = performance.now();
    let reason = lost.message;
    for (let attempt = 0;; attempt++) {
      const delay = backoffDelay(attempt, this.#options.random);
      if (performance.now() - started + delay > reconnectTimeoutMs) break;
      await new Promise((resolve) => this.#sleepTimer = setTimeout(resolve, delay));
      if (this.#closing) throw this.#end(lost);
      let connection: Connection;
      try {
        connection = await this.#connect();
      } catch (error) {
        reason = error instanceof Error ? error.message : String(error);
        continue;
      }
      const relogin = this.#credentials ? await this.#relogin(connection) : "done";
      if (relogin !== "done") {
        reason = relogin;
        connection.close();
        continue;
      }
      this.#adopt(connection);
      if (!this.#credentials) print("reconnected");
      return connection;
    }
    const seconds = Math.round(reconnectTimeoutMs / 1000);
    throw this.#end(
      new ConnectionClosedError(
        `${lost.message}; gave up reconnecting after ${seconds} s (${reason})`,
      ),
    );
  }

  /** Logs in on a new connection; returns "done" or why to try again. */
  async #relogin(connection: Connection): Promise<string> {
    const credentials = this.#credentials!;
    const frame = loginFrame(credentials.identity, { token: credentials.token });
    let reply: Frame;
    try {
      reply = await connection.request(frame, AbortSignal.timeout(RELOGIN_TIMEOUT_MS));
    } catch (error) {
      return error instanceof Error ? error.message : String(error);
    }
    const errno = errnoOf(reply);
    if (errno !== 0) {
      if (errno !== undefined && TRANSIENT_LOGIN_ERRNOS.has(errno)) {
        return `login refused: ${formatFailure(reply)}`;
      }
      this.#options.print(`logged out: logging in again failed: ${formatFailure(reply)}`);
      this.#credentials = null;
      this.onRelogin(null);
      return "done";
    }
    const login = this.loggedIn(reply, credentials.identity);
    this.#options.print(["reconnected", ...formatLoginSummary(login)].join("\n"));
    this.onRelogin(login.view);
    return "done";
  }

  #end(error: ConnectionClosedError): ConnectionClosedError {
    this.#finalError = error;
    for (const reject of this.#waiters) reject(error);
    this.#waiters.clear();
    this.#giveUp(error);
    return error;
  }
}
