// Direct delivery of chat messages. A recipient whose connection is keeping up takes the push
// straight away and the message is never made pending for them: a v1 session (no receipts) has
// it written before the sender's ACK, since v1 counts a written push as delivered; a receipts
// session has it counted on its delivery cursor (lib/delivery_cursor.ts), which makes it pending
// later only if the client never confirms it. `route` decides per recipient, before the message
// is stored, whether that is worth trying: a session here that can take it now
// (lib/direct_writer.ts), a user online on another server (whose server writes and reports back,
// lib/direct_remote.ts), or neither (the message is stored pending for them; so is a user another
// server reported, less than 2 s ago, as not taking pushes directly: one far behind, say). `send`
// says, after the store, who took the push, who missed it and whose write is still under way;
// lib/delivery.ts makes the message pending for the last two before the ACK, so an errno 0 ACK
// means no recipient can miss it.

import type { DirectReport, Presence } from "./cluster/types.ts";
import type { DeliveryCursors } from "./delivery_cursor.ts";
import { DirectRemote, type ReportedEnvelope } from "./direct_remote.ts";
import { DirectWriter } from "./direct_writer.ts";
import { LocationCache } from "./location_cache.ts";
import type { LogThrottle } from "./log_throttle.ts";
import type { LoginHolds } from "./login_holds.ts";
import type { ServerMetrics } from "./metrics.ts";
import type { ChatPush } from "./protocol.ts";
import type { Session, SessionRegistry } from "./session.ts";
import type { Bus } from "./cluster/types.ts";
import type { Timers } from "./shared_deadline.ts";

/** Recipients split by how they get a push. */
export interface Routes {
  /** Sessions on this server taking the push directly, by user id. */
  local: Map<number, Session>;
  /** Users on other servers, by node, who may take the push directly. */
  remote: Map<string, number[]>;
  /** Recipients for whom the message is made pending when stored. */
  stored: number[];
}

/** How a direct send went for the recipients who did not simply take the push. */
export interface DirectOutcome {
  /** Did not get the push (connection closed or replaced, write failed, no report). */
  missed: number[];
  /** Their write is still under way: resolves true once written, false if it failed. */
  late: Map<number, Promise<boolean>>;
}

export interface DirectDeps {
  sessions: SessionRegistry;
  presence: Presence;
  bus: Bus;
  holds: LoginHolds;
  cursors: DeliveryCursors;
  warnings: LogThrottle;
  metrics?: ServerMetrics;
  /** How long a write here may take before its session is late (DIRECT_WRITE_MS). */
  writeMs?: number;
  /**
   * How long to wait for another server's report (DIRECT_REPORT_MS); a write this server does
   * for another one waits half of it (DIRECT_REMOTE_WRITE_MS by default).
   */
  reportMs?: number;
  /** The timers of the deadlines; the system's by default (tests pass their own). */
  timers?: Timers;
  /** Where recipients on other servers were last found; a LocationCache of its own by default. */
  locations?: LocationCache;
}

export class DirectDelivery {
  readonly #deps: DirectDeps;
  readonly #locations: LocationCache;
  /**
   * Users another server reported as there but not taking pushes directly (far behind on their
   * writes, say), remembered as long as a location: they are routed the pending way meanwhile.
   */
  readonly #declining: LocationCache;
  readonly #writer: DirectWriter;
  readonly #remote: DirectRemote;

  constructor(deps: DirectDeps) {
    this.#deps = deps;
    this.#locations = deps.locations ?? new LocationCache();
    this.#declining = new LocationCache();
    this.#writer = new DirectWriter(deps.holds, deps.cursors, {
      writeMs: deps.writeMs,
      remoteWriteMs: deps.reportMs === undefined ? undefined : deps.reportMs / 2,
      timers: deps.timers,
      metrics: deps.metrics,
    });
    this.#remote = new DirectRemote({
      nodeId: deps.presence.nodeId,
      sessions: deps.sessions,
      bus: deps.bus,
      writer: this.#writer,
      warnings: deps.warnings,
      metrics: deps.metrics,
      reportMs: deps.reportMs,
      timers: deps.timers,
    });
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
        if (this.#writer.takes(userId, session)) local.set(userId, session);
        else stored.push(userId);
        continue;
      }
      if (this.#declining.get(userId) !== undefined) {
        stored.push(userId);
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
   * Hands the push of a stored message to the recipients `route` found could take it directly;
   * resolves with those who did not take it in time (see DirectOutcome). Never throws.
   */
  async send(routes: Routes, push: ChatPush): Promise<DirectOutcome> {
    const [local, remoteMissed] = routes.remote.size === 0
      ? [await this.#writeLocal(routes.local, push), []]
      : await Promise.all([
        this.#writeLocal(routes.local, push),
        Promise.all([...routes.remote].map(([node, to]) => this.#sendRemote(node, to, push))),
      ]);
    const missed = remoteMissed.length === 0 ? local.failed : [
      ...local.failed,
      ...remoteMissed.flat(),
    ];
    return { missed, late: local.late };
  }

  /** Takes an envelope another server published asking for a report (DirectRemote.take). */
  take(envelope: ReportedEnvelope): Promise<void> {
    return this.#remote.take(envelope);
  }

  /** Hands reports another server sent to the sends waiting for them. */
  receiveReports(reports: readonly DirectReport[]): void {
    this.#remote.receiveReports(reports);
  }

  /** Writes to the sessions still logged in; sorts them by how their write went in time. */
  async #writeLocal(sessions: ReadonlyMap<number, Session>, push: ChatPush) {
    const current = new Map<number, Session>();
    const failed: number[] = [];
    for (const [userId, session] of sessions) {
      const stillHere = this.#deps.sessions.get(userId) === session &&
        !this.#deps.holds.isLoggingIn(userId);
      if (stillHere) current.set(userId, session);
      else failed.push(userId);
    }
    const outcome = await this.#writer.write(current, push);
    return {
      failed: failed.length === 0 ? outcome.failed : [...failed, ...outcome.failed],
      late: outcome.late,
    };
  }

  /**
   * Sends to another server's users; forgets where those who missed it were thought to be, and
   * remembers those who declined it.
   */
  async #sendRemote(node: string, to: number[], push: ChatPush): Promise<number[]> {
    const { missed, declined } = await this.#remote.send(node, to, push);
    for (const userId of missed) this.#locations.forget(userId);
    for (const userId of declined) this.#declining.learn(userId, node);
    return missed;
  }
}
