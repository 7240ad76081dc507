// The direct path for receipts sessions: a push written straight to a client that acknowledges
// with RECEIPT gets no pending row. Instead the session holds its user's delivery cursor open in
// the store (CursorRepository) and keeps, in memory, the mids written to it and not yet
// acknowledged. The store only learns, about once a second, how far every message for the user
// is acknowledged (the cursor's `upto`: just below the oldest unacknowledged mid), so a RECEIPT
// costs no write of its own. Whatever is still unacknowledged when the session ends is made
// pending then, before the cursor is closed; if the server dies first, the cursor stays open and
// the next login reads every message for the user above it back from the log.
//
// This holds because a session takes directly only mids above every mid it took before: a push
// that arrives out of order (an older mid, from a slower server or transaction) is declined and
// goes the pending way. So every message for the user up to `upto` is acknowledged or has a
// pending row of its own, and everything above it that was written directly is still in the log.

import type { LogThrottle } from "./log_throttle.ts";
import type { ServerMetrics } from "./metrics.ts";
import type { Session } from "./session.ts";
import { type Timers, UNREF_TIMERS } from "./shared_deadline.ts";
import {
  type CursorMark,
  type CursorRepository,
  DEFAULT_PENDING_CAP,
  type MessageRepository,
  type StoredMessage,
} from "./store/types.ts";

/** Most pushes a session may have unacknowledged on the direct path; beyond, they go pending. */
export const UNCONFIRMED_CAP = 1000;

/**
 * Most messages a login reads back from above a cursor left open, the newest: as many as the
 * default pending cap keeps. Older ones are those a pending row would have lost to the cap too,
 * since everything that came after the crash is pending.
 */
export const READ_BACK_LIMIT = DEFAULT_PENDING_CAP;

/** How long an acknowledgement may wait before the cursor moves in the store, ms. */
export const CURSOR_FLUSH_MS = 1000;

/** One receipts session's cursor. */
interface Cursor {
  session: Session;
  userId: number;
  /** A random id of the session in the store: only it moves or closes the cursor. */
  owner: number;
  /** The highest mid the session took (or the log's newest at login): it takes only above. */
  highest: number;
  /** Mids taken directly (or read back) and not acknowledged yet, in increasing order. */
  unconfirmed: Set<number>;
  /** Those read back at login: they may be pending rows too, removed when confirmed. */
  readBack: Set<number>;
  /** The `upto` the store has (or is being sent). */
  stored: number;
}

export interface DeliveryCursorsDeps {
  cursors: CursorRepository;
  messages: Pick<MessageRepository, "keepPending">;
  warnings: LogThrottle;
  metrics?: ServerMetrics;
  /** The timer of the flushes: UNREF_TIMERS by default (a flush is not worth staying up for). */
  timers?: Timers;
  /** CURSOR_FLUSH_MS by default. */
  flushMs?: number;
}

export class DeliveryCursors {
  readonly #deps: DeliveryCursorsDeps;
  readonly #timers: Timers;
  readonly #bySession = new WeakMap<Session, Cursor>();
  /** Cursors whose `upto` moved since the last flush (one per session at most). */
  #moved = new Set<Cursor>();
  #flushTimer: unknown = null;

  constructor(deps: DeliveryCursorsDeps) {
    this.#deps = deps;
    this.#timers = deps.timers ?? UNREF_TIMERS;
  }

  /**
   * Opens the user's cursor for a receipts session logging in. Returns the messages a session
   * before it may have taken directly and not had confirmed (its server stopped, or its end is
   * still being stored), for the backlog; they are awaited as acknowledgements on this session.
   * Read the user's pending rows after this: what an earlier session's end makes pending is
   * then either among them or read back here. Throws what the store throws.
   */
  async open(userId: number, session: Session): Promise<StoredMessage[]> {
    const owner = randomOwner();
    const opening = await this.#deps.cursors.open(userId, owner, READ_BACK_LIMIT);
    const readBack = new Set(opening.unconfirmed.map(({ mid }) => mid));
    const cursor: Cursor = {
      session,
      userId,
      owner,
      highest: opening.newest,
      unconfirmed: new Set(readBack),
      readBack,
      // The store's cursor is below what was read back, to be moved once that is confirmed.
      stored: readBack.size > 0 ? -1 : opening.newest,
    };
    this.#bySession.set(session, cursor);
    if (readBack.size > 0) {
      this.#moved.add(cursor);
      this.#scheduleFlush();
    }
    return opening.unconfirmed;
  }

  /** Whether the session may take a push directly now, as far as its cursor goes. */
  takes(session: Session): boolean {
    const cursor = this.#bySession.get(session);
    return cursor !== undefined && cursor.unconfirmed.size < UNCONFIRMED_CAP;
  }

  /**
   * Counts the push `mid` as taken directly by the session if it may (a cursor, room, and a mid
   * above all it took): true if so. Called just before the push is written to it.
   */
  accept(session: Session, mid: number): boolean {
    const cursor = this.#bySession.get(session);
    if (
      !cursor || mid <= cursor.highest || cursor.unconfirmed.size >= UNCONFIRMED_CAP
    ) return false;
    cursor.highest = mid;
    cursor.unconfirmed.add(mid);
    return true;
  }

  /**
   * Takes the session's acknowledgements: returns the mids that may be pending rows (not taken
   * directly, or read back), for the store to remove.
   */
  confirm(session: Session, mids: readonly number[]): number[] {
    const cursor = this.#bySession.get(session);
    if (!cursor || cursor.unconfirmed.size === 0) return [...mids];
    const rest: number[] = [];
    let confirmed = false;
    for (const mid of mids) {
      if (!cursor.unconfirmed.delete(mid)) rest.push(mid);
      else {
        confirmed = true;
        if (cursor.readBack.delete(mid)) rest.push(mid);
      }
    }
    if (confirmed) this.#moved.add(cursor);
    this.#scheduleFlush();
    return rest;
  }

  /**
   * Ends the session's cursor: makes what it has not confirmed pending, then closes the cursor
   * in the store. If either fails the cursor stays open, so the next login reads the messages
   * back from the log. Never throws.
   */
  async close(session: Session): Promise<void> {
    const cursor = this.#bySession.get(session);
    if (!cursor) return;
    this.#bySession.delete(session);
    this.#moved.delete(cursor);
    const { userId, owner, highest, unconfirmed } = cursor;
    try {
      if (unconfirmed.size > 0) await this.#deps.messages.keepPending(userId, [...unconfirmed]);
      await this.#deps.cursors.close({ userId, owner, upto: highest });
    } catch (error) {
      this.#deps.metrics?.backendError(error);
      this.#deps.warnings.warn(
        "could not close a delivery cursor; the user's next login reads the messages back",
        { error, user: userId },
      );
    }
  }

  /** Sends the cursors that moved to the store now (also done on a timer). */
  async flush(): Promise<void> {
    if (this.#flushTimer !== null) {
      this.#timers.clearTimeout(this.#flushTimer);
      this.#flushTimer = null;
    }
    const moved: Array<{ cursor: Cursor; before: number }> = [];
    const marks: CursorMark[] = [];
    for (const cursor of this.#moved) {
      const upto = uptoOf(cursor);
      if (upto <= cursor.stored) continue;
      moved.push({ cursor, before: cursor.stored });
      cursor.stored = upto;
      marks.push({ userId: cursor.userId, owner: cursor.owner, upto });
    }
    this.#moved = new Set();
    if (marks.length === 0) return;
    try {
      await this.#deps.cursors.advance(marks);
    } catch (error) {
      // Harmless meanwhile: a cursor behind only means more is read back after a crash.
      for (const { cursor, before } of moved) {
        cursor.stored = Math.min(cursor.stored, before);
        if (this.#bySession.has(cursor.session)) this.#moved.add(cursor);
      }
      this.#scheduleFlush();
      this.#deps.metrics?.backendError(error);
      this.#deps.warnings.warn("could not move delivery cursors; trying again", { error });
    }
  }

  #scheduleFlush(): void {
    if (this.#flushTimer !== null || this.#moved.size === 0) return;
    this.#flushTimer = this.#timers.setTimeout(() => {
      this.#flushTimer = null;
      void this.flush();
    }, this.#deps.flushMs ?? CURSOR_FLUSH_MS);
  }
}

/** How far every message for the cursor's user is acknowledged or pending. */
function uptoOf(cursor: Cursor): number {
  for (const mid of cursor.unconfirmed) return mid - 1;
  return cursor.highest;
}

/** A random session id for the store: 48 bits, exact as a JavaScript number and a BIGINT. */
function randomOwner(): number {
  const [high, low] = crypto.getRandomValues(new Uint32Array(2));
  return (high & 0xffff) * 2 ** 32 + low + 1;
}
