// @ts-check
// The web client's link to the server over WebSocket, without any DOM: requests matched to their
// replies by seq, pushes handed on, a ping when the connection is quiet, and after a lost
// connection a reconnect with growing, jittered delays that logs in again with the session token
// (or, from a server that gives none, the password kept for that; a change of password replaces
// it) and re-sends the chat requests that had no reply yet, under the same idempotency key. The
// page (app.js) uses it; tests/web_browser_test.ts drives it, through the page, against the real
// server in headless Chromium.

/** @typedef {Record<string, any>} Frame */

export const MsgId = Object.freeze({
  LOGIN: 1,
  LOGIN_ACK: 2,
  LOGOUT: 3,
  REGISTER: 4,
  ONE_CHAT: 6,
  ADD_FRIEND: 7,
  CREATE_GROUP: 8,
  ADD_GROUP: 9,
  GROUP_CHAT: 10,
  ERROR: 12,
  RECEIPT: 13,
  HISTORY: 14,
  PING: 15,
  NOTICE: 16,
  PRESENCE: 17,
  ROSTER: 18,
  REMOVE_FRIEND: 19,
  LEAVE_GROUP: 20,
  CHANGE_PASSWORD: 21,
});

/** Most mids in one RECEIPT (the server's limit). */
const RECEIPT_MAX = 1000;

/** A request that failed: the server's errno and errmsg, or errno 0 when the link was lost. */
export class RequestError extends Error {
  /** @param {number} errno @param {string} message */
  constructor(errno, message) {
    super(message);
    this.name = "RequestError";
    this.errno = errno;
  }
}

/**
 * @typedef {{
 *   url: string,
 *   onPush: (frame: Frame) => void,
 *   onStatus: (status: "connecting" | "online" | "reconnecting" | "offline", detail?: string) => void,
 *   onLoggedIn: (view: Frame) => void,
 *   onLoggedOut: (reason: string) => void,
 *   pingMs?: number,
 *   pongMs?: number,
 *   firstDelayMs?: number,
 *   maxDelayMs?: number,
 *   random?: () => number,
 * }} LinkOptions
 */

export class ChatLink {
  /** @type {WebSocket | null} */
  #socket = null;
  #seq = 0;
  /** Requests sent and not answered yet, by seq. @type {Map<number, Pending>} */
  #pending = new Map();
  /** How to log in again: name, and token or (from a server without tokens) password. */
  /** @type {{ name: string, token?: string, password?: string } | null} */
  #credentials = null;
  #attempt = 0;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  #retryTimer;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  #quietTimer;
  #stopped = false;
  /** @type {number[]} */
  #receipts = [];
  #receiptQueued = false;
  /** @type {LinkOptions} */
  #options;
  /** The connection being opened by open(). @type {Promise<unknown> | null} */
  #opening = null;

  /** @param {LinkOptions} options */
  constructor(options) {
    this.#options = options;
  }

  /** Opens the connection (not logged in yet); resolves once it is open. */
  open() {
    this.#stopped = false;
    if (this.#socket?.readyState === WebSocket.CONNECTING && this.#opening) {
      return this.#opening;
    }
    return this.#opening = this.#connect();
  }

  /** True while the connection is open. */
  get connected() {
    return this.#socket?.readyState === WebSocket.OPEN;
  }

  /** True while a logged-in session should be kept (reconnecting after a loss). */
  get loggedIn() {
    return this.#credentials !== null;
  }

  /**
   * Logs in with name and password; on success the link keeps the session token (or the
   * password, if the server gives no token) to log in again after a lost connection.
   * @param {string} name @param {string} password @returns {Promise<Frame>}
   */
  async login(name, password) {
    const view = await this.request({
      msgid: MsgId.LOGIN,
      name,
      password,
      receipts: true,
    });
    this.#credentials = typeof view.token === "string"
      ? { name: view.name, token: view.token }
      : { name: view.name, password };
    this.#options.onLoggedIn(view);
    return view;
  }

  /**
   * Logs in with a session token kept from an earlier login (a reloaded page).
   * @param {string} name @param {string} token @returns {Promise<Frame>}
   */
  async resume(name, token) {
    const view = await this.request({
      msgid: MsgId.LOGIN,
      name,
      token,
      receipts: true,
    });
    this.#credentials = {
      name: view.name,
      token: typeof view.token === "string" ? view.token : token,
    };
    this.#options.onLoggedIn(view);
    return view;
  }

  /**
   * Changes the password (CHANGE_PASSWORD). The server revokes every token of the user and the
   * reply carries this session's fresh one: it replaces the kept token as a login's does (or,
   * from a server that gives none, the new password is kept).
   * @param {string} old @param {string} replacement @returns {Promise<Frame>}
   */
  async changePassword(old, replacement) {
    const reply = await this.request({
      msgid: MsgId.CHANGE_PASSWORD,
      old,
      new: replacement,
    });
    const name = this.#credentials?.name;
    if (name !== undefined) {
      this.#credentials = typeof reply.token === "string"
        ? { name, token: reply.token }
        : { name, password: replacement };
    }
    return reply;
  }

  /** The session token, if the server gave one. */
  get token() {
    return this.#credentials?.token ?? null;
  }

  /** Logs out and stops reconnecting. */
  async logout() {
    this.#credentials = null;
    try {
      if (this.#socket?.readyState === WebSocket.OPEN) {
        await this.request({ msgid: MsgId.LOGOUT });
      }
    } catch {
      // Gone anyway.
    }
    this.close();
  }

  /** Closes the link for good. */
  close() {
    this.#stopped = true;
    this.#credentials = null;
    clearTimeout(this.#retryTimer);
    clearTimeout(this.#quietTimer);
    this.#socket?.close();
    this.#failAll("closed");
  }

  /**
   * Sends a request and resolves with its reply (errno 0), or rejects with a RequestError. With
   * `resend`, a request cut off by a lost connection is sent again after the next login.
   * @param {Frame} frame @param {{ resend?: boolean }} [options] @returns {Promise<Frame>}
   */
  request(frame, { resend = false } = {}) {
    return new Promise((resolve, reject) => {
      const pending = { frame, resend, resolve, reject };
      if (this.#socket?.readyState !== WebSocket.OPEN) {
        if (resend && this.#credentials) {
          this.#pending.set(-++this.#seq, pending);
        } else reject(new RequestError(0, "not connected to the server"));
        return;
      }
      this.#send(pending);
    });
  }

  /** Acknowledges shown messages; receipts of one moment go in one RECEIPT. */
  receipt(/** @type {number[]} */ mids) {
    this.#receipts.push(...mids);
    if (this.#receiptQueued) return;
    this.#receiptQueued = true;
    setTimeout(() => {
      this.#receiptQueued = false;
      const mids = [...new Set(this.#receipts.splice(0))];
      for (let start = 0; start < mids.length; start += RECEIPT_MAX) {
        const batch = mids.slice(start, start + RECEIPT_MAX);
        // Not acknowledged now: the messages come again at the next login and are dropped by mid.
        this.request({ msgid: MsgId.RECEIPT, mids: batch }).catch(() => {});
      }
    }, 50);
  }

  /** @param {Pending} pending */
  #send(pending) {
    const seq = ++this.#seq;
    this.#pending.set(seq, pending);
    /** @type {WebSocket} */ (this.#socket).send(
      JSON.stringify({ ...pending.frame, seq }),
    );
  }

  #connect() {
    const { url } = this.#options;
    this.#options.onStatus(this.#attempt === 0 ? "connecting" : "reconnecting");
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url);
      this.#socket = socket;
      let opened = false;
      socket.addEventListener("open", () => {
        opened = true;
        this.#heard();
        resolve(undefined);
        void this.#opened();
      });
      socket.addEventListener("message", (event) => {
        this.#heard();
        if (typeof event.data === "string") this.#frame(JSON.parse(event.data));
      });
      socket.addEventListener("close", () => {
        if (this.#socket !== socket) return;
        this.#socket = null;
        clearTimeout(this.#quietTimer);
        if (!opened) reject(new RequestError(0, "cannot reach the server"));
        this.#lost();
      });
    });
  }

  /** After (re)connecting: logs in again if a session is kept, then re-sends what was cut off. */
  async #opened() {
    const credentials = this.#credentials;
    if (!credentials) {
      this.#attempt = 0;
      this.#options.onStatus("online");
      return;
    }
    try {
      const view = await this.request({
        msgid: MsgId.LOGIN,
        ...credentials,
        receipts: true,
      });
      if (typeof view.token === "string") {
        this.#credentials = { name: view.name, token: view.token };
      }
      this.#attempt = 0;
      this.#options.onStatus("online");
      this.#options.onLoggedIn(view);
      for (const [seq, pending] of [...this.#pending]) {
        if (seq < 0) {
          this.#pending.delete(seq);
          this.#send(pending);
        }
      }
    } catch (error) {
      if (error instanceof RequestError && error.errno === 1) {
        this.close();
        this.#options.onLoggedOut("your session has ended; log in again");
        return;
      }
      // Still online from the lost connection (errno 2), throttled, or a server error: again later.
      this.#socket?.close();
    }
  }

  /** @param {Frame} frame */
  #frame(frame) {
    const pending = typeof frame.seq === "number" ? this.#pending.get(frame.seq) : undefined;
    if (!pending) {
      this.#options.onPush(frame);
      return;
    }
    this.#pending.delete(frame.seq);
    if (frame.errno === 0) pending.resolve(frame);
    else {pending.reject(
        new RequestError(frame.errno, String(frame.errmsg ?? "request failed")),
      );}
  }

  #lost() {
    this.#failAll("connection to the server lost");
    if (this.#stopped) {
      this.#options.onStatus("offline");
      return;
    }
    if (!this.#credentials) {
      // Not logged in: nothing to resume, and the next Log in or Register connects again (the
      // server closes a connection left on the login form past its login deadline).
      this.#options.onStatus("offline");
      return;
    }
    const { firstDelayMs = 500, maxDelayMs = 10_000, random = Math.random } = this.#options;
    const delay = Math.min(maxDelayMs, firstDelayMs * 2 ** this.#attempt) *
      (0.5 + random() / 2);
    this.#attempt++;
    this.#options.onStatus("reconnecting");
    this.#retryTimer = setTimeout(() => this.#connect().catch(() => {}), delay);
  }

  /** Rejects the requests in flight, except those to re-send after the next login. */
  #failAll(/** @type {string} */ reason) {
    for (const [seq, pending] of [...this.#pending]) {
      if (pending.resend && this.#credentials && !this.#stopped) {
        if (seq > 0) {
          this.#pending.delete(seq);
          this.#pending.set(-seq, pending);
        }
        continue;
      }
      this.#pending.delete(seq);
      pending.reject(new RequestError(0, reason));
    }
  }

  /** Something came: the connection is alive; ping after the next quiet spell. */
  #heard() {
    clearTimeout(this.#quietTimer);
    const { pingMs = 30_000, pongMs = 10_000 } = this.#options;
    this.#quietTimer = setTimeout(() => {
      const socket = this.#socket;
      this.request({ msgid: MsgId.PING }).catch(() => {});
      this.#quietTimer = setTimeout(() => socket?.close(), pongMs);
    }, pingMs);
  }
}

/**
 * @typedef {{ frame: Frame, resend: boolean, resolve: (reply: Frame) => void,
 *   reject: (error: Error) => void }} Pending
 */
