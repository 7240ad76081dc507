// The write half of direct delivery on one server: which sessions here may take a push
// directly, and writing it to them with a short wait for the writes. A session may if it is not
// logging in, not behind on its writes, and not late; a receipts session also needs room on its
// delivery cursor (lib/delivery_cursor.ts), and takes a push as soon as the cursor counts it, so
// its sender never waits for the write. Once a
// direct write to it has missed the deadline, it is late until that write settles, and no push
// waits on it meanwhile (they go the pending way). So a recipient that stops reading costs one
// sender one wait of at most the deadline (50 ms; 500 ms when another server's sender asked),
// and every later sender nothing: their ACKs never depend on how fast the recipient reads.

import type { DeliveryCursors } from "./delivery_cursor.ts";
import type { LoginHolds } from "./login_holds.ts";
import type { ServerMetrics } from "./metrics.ts";
import type { ChatPush } from "./protocol.ts";
import type { Session } from "./session.ts";
import { SharedDeadline, SYSTEM_TIMERS, type Timers } from "./shared_deadline.ts";
import { SharedFrame } from "./shared_frame.ts";

/** Most bytes a session may have waiting to be written and still take pushes directly. */
export const DIRECT_BACKLOG_BYTES = 64 * 1024;

/**
 * How long a direct write for this server's own sender may take before its session counts as
 * late. A session keeping up has its push written within an event-loop turn or two; this only
 * has to cover a busy turn. A late write here costs nothing but a pending row: the sender makes
 * the message pending, and the write, when it completes, marks it delivered.
 */
export const DIRECT_WRITE_MS = 50;

/** How the writes of one push went: written in time, failed, or still under way (late). */
export interface WriteOutcome {
  taken: number[];
  failed: number[];
  /** By user id: the write still under way, resolving true once written, false if it failed. */
  late: Map<number, Promise<boolean>>;
}

/**
 * The same for a write another server asked for (lib/direct_remote.ts). Longer, because a write
 * reported late there is routed again by the sender, and the late write still goes out: the
 * recipient would get the push twice. Half the sender's wait for the report, so the report comes
 * in time.
 */
export const DIRECT_REMOTE_WRITE_MS = 500;

/** Whose deadline a write runs on: this server's sender's, or another server's. */
export type WriteFor = "local" | "remote";

export class DirectWriter {
  readonly #holds: LoginHolds;
  readonly #cursors: DeliveryCursors;
  readonly #metrics: ServerMetrics | undefined;
  readonly #deadlines: Record<WriteFor, SharedDeadline>;
  /** Sessions with a direct write that missed its deadline and has not settled yet. */
  readonly #late = new WeakSet<Session>();

  constructor(
    holds: LoginHolds,
    cursors: DeliveryCursors,
    options: {
      writeMs?: number;
      remoteWriteMs?: number;
      timers?: Timers;
      metrics?: ServerMetrics;
    } = {},
  ) {
    this.#holds = holds;
    this.#cursors = cursors;
    this.#metrics = options.metrics;
    const timers = options.timers ?? SYSTEM_TIMERS;
    this.#deadlines = {
      local: new SharedDeadline(options.writeMs ?? DIRECT_WRITE_MS, timers),
      remote: new SharedDeadline(options.remoteWriteMs ?? DIRECT_REMOTE_WRITE_MS, timers),
    };
  }

  /** Whether `session` of `userId` may take a push directly now (see the header). */
  takes(userId: number, session: Session): boolean {
    return (!session.receipts || this.#cursors.takes(session)) && !this.#late.has(session) &&
      !this.#holds.isLoggingIn(userId) && session.unwrittenBytes <= DIRECT_BACKLOG_BYTES;
  }

  /**
   * Writes the push to every session and waits, up to the deadline, for the writes: who has it
   * written, whose write failed, and the writes still under way, whose sessions are late now.
   */
  async write(
    sessions: ReadonlyMap<number, Session>,
    push: ChatPush,
    writeFor: WriteFor = "local",
  ): Promise<WriteOutcome> {
    const taken: number[] = [];
    const failed: number[] = [];
    const late = new Map<number, Promise<boolean>>();
    if (sessions.size === 0) return { taken, failed, late };
    const shared = new SharedFrame(push);
    const { promise: settled, resolve } = Promise.withResolvers<void>();
    for (const [userId, session] of sessions) {
      if (session.receipts) {
        // Counted on the cursor before it is written: taken, whatever the write does.
        if (this.#cursors.accept(session, push.mid)) {
          this.#send(session, shared, push);
          taken.push(userId);
        } else {
          failed.push(userId);
        }
        continue;
      }
      this.#send(session, shared, push);
      const write = session.written();
      late.set(userId, write);
      write.then((written) => {
        this.#late.delete(session);
        if (!late.delete(userId)) return;
        (written ? taken : failed).push(userId);
        if (late.size === 0) resolve();
      });
    }
    if (late.size === 0) return { taken, failed, late };
    const deadline = this.#deadlines[writeFor].start();
    await Promise.race([settled, deadline.expired]);
    deadline.done();
    if (late.size === 0) return { taken, failed, late };
    for (const userId of late.keys()) this.#late.add(sessions.get(userId)!);
    // Freeze the outcome: what settles from now on is late.
    return { taken: [...taken], failed: [...failed], late: new Map(late) };
  }

  #send(session: Session, shared: SharedFrame, push: ChatPush): void {
    session.sendShared(shared);
    this.#metrics?.frameOut(push);
    this.#metrics?.delivered((Date.now() - Date.parse(push.time)) / 1000);
  }
}
