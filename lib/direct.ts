// Direct delivery of chat messages. A recipient logged in without receipts (protocol v1) whose
// connection is keeping up takes the push straight away: it is written to their socket before
// the sender's ACK and the message is never made pending for them, since v1 counts a written
// push as delivered. A recipient on this server is written to here; one on another server is
// written to by that server, which reports over the bus who took it. Whoever did not take it in
// time (connection closed or replaced, write or report slower than the limit, bus away) has the
// message made pending after all and is delivered to the usual way (lib/delivery.ts), still
// before the ACK: so an errno 0 ACK keeps meaning that no recipient can miss the message.

import { setImmediate } from "node:timers";
import type { Bus, DirectReport, Envelope, Presence } from "./cluster/types.ts";
import { LocationCache } from "./location_cache.ts";
import type { Logger } from "./log.ts";
import type { ServerMetrics } from "./metrics.ts";
import type { ChatPush } from "./protocol.ts";
import type { Session, SessionRegistry } from "./session.ts";
import { SharedFrame } from "./shared_frame.ts";

/** Most bytes a session may have waiting to be written and still take pushes directly. */
export const DIRECT_BACKLOG_BYTES = 64 * 1024;

/** How long a direct push may take to be taken (written, and reported if remote). */
export const DIRECT_WRITE_MS = 1000;

/** Recipients split by how they get a push. */
export interface Routes {
  /** Sessions on this server taking the push directly, by user id. */
  local: Map<number, Session>;
  /** Users on other servers, by node, who may take the push directly. */
  remote: Map<string, number[]>;
  /** Recipients for whom the message is made pending when stored. */
  stored: number[];
}

/** What direct delivery falls back on: the usual routing of stored pushes (lib/delivery.ts). */
export interface Fallback {
  /** Routes a push to recipients for whom the message is pending. Never throws. */
  deliver(recipients: readonly number[], push: ChatPush): Promise<void>;
  /** Counts a push written to a v1 session as delivered (acknowledges it in the store). */
  markWritten(userId: number, mid: number): void;
  /** True while the user is logging in here (their pushes wait for the backlog). */
  isLoggingIn(userId: number): boolean;
}

export interface DirectDeps {
  sessions: SessionRegistry;
  presence: Presence;
  bus: Bus;
  log: Logger;
  metrics?: ServerMetrics;
  fallback: Fallback;
  /** DIRECT_WRITE_MS by default. */
  directWriteMs?: number;
  /** Where recipients on other servers were last found; a LocationCache of its own by default. */
  locations?: LocationCache;
}

export class DirectDelivery {
  readonly #deps: DirectDeps;
  readonly #locations: LocationCache;
  readonly #deadlines: SharedDeadline;
  /** Half the limit for a server writing for another one, so its report arrives in time. */
  readonly #remoteDeadlines: SharedDeadline;
  /** Envelopes published with `reply`, waiting for their report, by ticket. */
  readonly #awaiting = new Map<number, (taken: number[]) => void>();
  #nextTicket = 1;
  /** Reports to send, by node, in one message per node per event-loop turn. */
  #reports = new Map<string, DirectReport[]>();

  constructor(deps: DirectDeps) {
    this.#deps = deps;
    this.#locations = deps.locations ?? new LocationCache();
    const limit = deps.directWriteMs ?? DIRECT_WRITE_MS;
    this.#deadlines = new SharedDeadline(limit);
    this.#remoteDeadlines = new SharedDeadline(limit / 2);
  }

  /**
   * Splits recipients: sessions here that can take the push directly, users online on other
   * servers (who may), and the rest, for whom the message is made pending when stored. Where
   * another server's users are is taken from the location cache when it knows.
   */
  async route(recipients: readonly number[]): Promise<Routes> {
    const { sessions, presence } = this.#deps;
    const local = new Map<number, Session>();
    const remote = new Map<string, number[]>();
    const stored: number[] = [];
    const unlocated: number[] = [];
    const addRemote = (node: string, userId: number) => {
      const users = remote.get(node);
      if (users) users.push(userId);
      else remote.set(node, [userId]);
    };
    for (const userId of new Set(recipients)) {
      const session = sessions.get(userId);
      if (session) {
        if (this.#takesDirectly(userId, session)) local.set(userId, session);
        else stored.push(userId);
        continue;
      }
      const node = this.#locations.get(userId);
      if (node === undefined) unlocated.push(userId);
      else addRemote(node, userId);
    }
    if (unlocated.length === 0) return { local, remote, stored };
    let located: Map<number, string>;
    try {
      located = await presence.locate(unlocated);
    } catch {
      // Made pending; the usual routing meets (and reports) the failure after the store.
      stored.push(...unlocated);
      return { local, remote, stored };
    }
    for (const userId of unlocated) {
      const node = located.get(userId);
      if (node === undefined || node === presence.nodeId) {
        stored.push(userId);
      } else {
        this.#locations.learn(userId, node);
        addRemote(node, userId);
      }
    }
    return { local, remote, stored };
  }

  /**
   * Hands the push of a stored message to the recipients `route` found could take it directly,
   * and resolves once each has taken it or, failing that, has it pending (by `makePending`)
   * and routed the usual way. Throws what `makePending` throws.
   */
  async send(
    routes: Routes,
    push: ChatPush,
    makePending: (userIds: number[]) => Promise<void>,
  ): Promise<void> {
    if (routes.local.size === 0 && routes.remote.size === 0) return;
    const [local, remoteMissed] = routes.remote.size === 0
      ? [await this.#writeLocal(routes.local, push), []]
      : await Promise.all([
        this.#writeLocal(routes.local, push),
        Promise.all([...routes.remote].map(([node, to]) => this.#sendRemote(node, to, push))),
      ]);
    const missed = [...local.failed, ...remoteMissed.flat()];
    if (missed.length === 0 && local.late.size === 0) return;
    await makePending([...missed, ...local.late.keys()]);
    const { fallback } = this.#deps;
    for (const [userId, write] of local.late) {
      write.then((written) =>
        written ? fallback.markWritten(userId, push.mid) : fallback.deliver([userId], push)
      );
    }
    await fallback.deliver(missed, push);
  }

  /**
   * Takes an envelope another server published with `reply`: writes the push to those of its
   * recipients here who can take it directly, and reports who did. The others get nothing
   * now: the sender makes the message pending for them and routes it again.
   */
  async take(envelope: Envelope & { reply: { node: string; ticket: number } }): Promise<void> {
    const sessions = new Map<number, Session>();
    for (const userId of envelope.to) {
      const session = this.#deps.sessions.get(userId);
      if (session && this.#takesDirectly(userId, session)) sessions.set(userId, session);
    }
    const { taken } = await this.#writeAll(
      sessions,
      envelope.push as ChatPush,
      this.#remoteDeadlines,
    );
    this.#report(envelope.reply.node, { ticket: envelope.reply.ticket, taken });
  }

  /** Hands reports another server sent to the sends waiting for them. */
  receiveReports(reports: readonly DirectReport[]): void {
    for (const { ticket, taken } of reports) {
      const resolve = this.#awaiting.get(ticket);
      this.#awaiting.delete(ticket);
      resolve?.(taken);
    }
  }

  #takesDirectly(userId: number, session: Session): boolean {
    return !session.receipts && !this.#deps.fallback.isLoggingIn(userId) &&
      session.unwrittenBytes <= DIRECT_BACKLOG_BYTES;
  }

  /** Writes to the sessions still logged in; sorts them by how their write went in time. */
  async #writeLocal(sessions: ReadonlyMap<number, Session>, push: ChatPush) {
    const current = new Map<number, Session>();
    const failed: number[] = [];
    for (const [userId, session] of sessions) {
      const stillHere = this.#deps.sessions.get(userId) === session &&
        !this.#deps.fallback.isLoggingIn(userId);
      if (stillHere) current.set(userId, session);
      else failed.push(userId);
    }
    const outcome = await this.#writeAll(current, push, this.#deadlines);
    return { failed: [...failed, ...outcome.failed], late: outcome.late };
  }

  /**
   * Writes the push to every session and waits, up to the deadline, for the writes: who has it
   * written, whose write failed, and the writes still under way.
   */
  async #writeAll(sessions: ReadonlyMap<number, Session>, push: ChatPush, limit: SharedDeadline) {
    const taken: number[] = [];
    const failed: number[] = [];
    /** The writes not settled yet. */
    const late = new Map<number, Promise<boolean>>();
    if (sessions.size === 0) return { taken, failed, late };
    const shared = new SharedFrame(push);
    const { promise: settled, resolve } = Promise.withResolvers<void>();
    for (const [userId, session] of sessions) {
      session.sendShared(shared);
      this.#deps.metrics?.frameOut(push);
      this.#deps.metrics?.delivered((Date.now() - Date.parse(push.time)) / 1000);
      const write = session.written();
      late.set(userId, write);
      write.then((written) => {
        if (!late.delete(userId)) return;
        (written ? taken : failed).push(userId);
        if (late.size === 0) resolve();
      });
    }
    const deadline = limit.start();
    await Promise.race([settled, deadline.expired]);
    deadline.done();
    if (late.size === 0) return { taken, failed, late };
    // Freeze the outcome: what settles from now on is late.
    return { taken: [...taken], failed: [...failed], late: new Map(late) };
  }

  /**
   * Publishes the push for node's users, asking for a report; returns who did not take it, and
   * forgets where they were thought to be.
   */
  async #sendRemote(node: string, to: number[], push: ChatPush): Promise<number[]> {
    const missed = await this.#publishForReport(node, to, push);
    for (const userId of missed) this.#locations.forget(userId);
    return missed;
  }

  async #publishForReport(node: string, to: number[], push: ChatPush): Promise<number[]> {
    const ticket = this.#nextTicket++;
    const { promise: reported, resolve } = Promise.withResolvers<number[]>();
    this.#awaiting.set(ticket, resolve);
    const deadline = this.#deadlines.start();
    try {
      const reply = { node: this.#deps.presence.nodeId, ticket };
      const heard = await this.#deps.bus.publish(node, { to, push, sentAt: Date.now(), reply });
      if (!heard) return to;
      const taken = await Promise.race([reported, deadline.expired.then(() => [])]);
      const took = new Set(taken);
      return to.filter((userId) => !took.has(userId));
    } catch (error) {
      this.#deps.metrics?.backendError(error);
      this.#deps.log.warn("direct publish failed; the message is made pending", { error, node });
      return to;
    } finally {
      deadline.done();
      this.#awaiting.delete(ticket);
    }
  }

  /** Queues a report for `node`; a turn's reports to one node go in one message. */
  #report(node: string, report: DirectReport): void {
    const queued = this.#reports.get(node);
    if (queued) {
      queued.push(report);
      return;
    }
    if (this.#reports.size === 0) setImmediate(() => this.#flushReports());
    this.#reports.set(node, [report]);
  }

  #flushReports(): void {
    const reports = this.#reports;
    this.#reports = new Map();
    for (const [node, batch] of reports) {
      this.#deps.bus.publish(node, { reports: batch, sentAt: Date.now() }).catch((error) => {
        this.#deps.metrics?.backendError(error);
        this.#deps.log.warn("direct report failed; the sender makes the message pending", {
          error,
          node,
        });
      });
    }
  }
}

/**
 * A timeout shared by the waits that start within the same few milliseconds: one timer for
 * many waits instead of one each, cleared when none of them waits any more. A wait expires
 * between `ms - GRAIN_MS` and `ms` after it starts.
 */
class SharedDeadline {
  static readonly GRAIN_MS = 10;
  readonly #ms: number;
  #current: DeadlineSlot | null = null;

  constructor(ms: number) {
    this.#ms = ms;
  }

  start(): { expired: Promise<void>; done: () => void } {
    const now = performance.now();
    let slot = this.#current;
    if (!slot || now - slot.startedAt > SharedDeadline.GRAIN_MS) {
      const { promise, resolve } = Promise.withResolvers<void>();
      const made: DeadlineSlot = {
        startedAt: now,
        expired: promise,
        waiting: 0,
        timer: setTimeout(() => {
          if (this.#current === made) this.#current = null;
          resolve();
        }, this.#ms),
      };
      slot = this.#current = made;
    }
    const current = slot;
    current.waiting++;
    let done = false;
    return {
      expired: current.expired,
      done: () => {
        if (done) return;
        done = true;
        if (--current.waiting > 0) return;
        clearTimeout(current.timer);
        if (this.#current === current) this.#current = null;
      },
    };
  }
}

interface DeadlineSlot {
  startedAt: number;
  expired: Promise<void>;
  waiting: number;
  timer: ReturnType<typeof setTimeout>;
}
