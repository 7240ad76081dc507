// The cross-server half of direct delivery: asking the server that holds some recipients to
// write a push to them directly and to report who took it. The sender publishes the envelope
// with a reply ticket and waits for the report (or the report deadline, or a publish nobody
// heard); the receiving server writes with its own DirectWriter (so a late session there costs
// at most its write deadline) and sends back, in one bus message per node per event-loop turn,
// the reports of the envelopes it took. A report also names the recipients who are there but do
// not take pushes directly (receipts clients, above all): the sender then stops asking for them
// for a while (lib/direct.ts), which saves a round trip per message.

import { setImmediate } from "node:timers";
import type { Bus, DirectReport, Envelope } from "./cluster/types.ts";
import type { DirectWriter } from "./direct_writer.ts";
import type { LogThrottle } from "./log_throttle.ts";
import type { ServerMetrics } from "./metrics.ts";
import type { ChatPush } from "./protocol.ts";
import type { Session, SessionRegistry } from "./session.ts";
import { SharedDeadline, SYSTEM_TIMERS, type Timers } from "./shared_deadline.ts";

/**
 * How long a sender waits for another server's report. The other server answers within its
 * own write deadline; this only runs out when the report is lost (that server died, the bus
 * dropped it), and then the message is made pending for its recipients there.
 */
export const DIRECT_REPORT_MS = 1000;

export interface DirectRemoteDeps {
  /** This server's node id, where reports come back to. */
  nodeId: string;
  sessions: SessionRegistry;
  bus: Bus;
  writer: DirectWriter;
  warnings: LogThrottle;
  metrics?: ServerMetrics;
  /** DIRECT_REPORT_MS by default. */
  reportMs?: number;
  timers?: Timers;
}

/** Who of a remote send's recipients did not take the push, and who of those declined it. */
export interface RemoteOutcome {
  missed: number[];
  declined: number[];
}

/** An envelope another server published asking for a report. */
export type ReportedEnvelope = Envelope & { reply: { node: string; ticket: number } };

export class DirectRemote {
  readonly #deps: DirectRemoteDeps;
  readonly #deadlines: SharedDeadline;
  /** Envelopes published with `reply`, waiting for their report, by ticket. */
  readonly #awaiting = new Map<number, (report: DirectReport) => void>();
  #nextTicket = 1;
  /** Reports to send, by node, in one message per node per event-loop turn. */
  #reports = new Map<string, DirectReport[]>();

  constructor(deps: DirectRemoteDeps) {
    this.#deps = deps;
    this.#deadlines = new SharedDeadline(
      deps.reportMs ?? DIRECT_REPORT_MS,
      deps.timers ?? SYSTEM_TIMERS,
    );
  }

  /**
   * Publishes the push for `node`'s users `to`, asking for a report; returns who missed it, and
   * which of those the other server said are there but do not take pushes directly now.
   */
  async send(node: string, to: number[], push: ChatPush): Promise<RemoteOutcome> {
    const ticket = this.#nextTicket++;
    const { promise: reported, resolve } = Promise.withResolvers<DirectReport | null>();
    this.#awaiting.set(ticket, resolve);
    const deadline = this.#deadlines.start();
    try {
      const reply = { node: this.#deps.nodeId, ticket };
      const heard = await this.#deps.bus.publish(node, { to, push, sentAt: Date.now(), reply });
      if (!heard) return { missed: to, declined: [] };
      const report = await Promise.race([reported, deadline.expired.then(() => null)]);
      const took = new Set(report?.taken);
      return {
        missed: to.filter((userId) => !took.has(userId)),
        declined: report?.declined ?? [],
      };
    } catch (error) {
      this.#deps.metrics?.backendError(error);
      this.#deps.warnings.warn("direct publish failed; the message is made pending", {
        error,
        node,
      });
      return { missed: to, declined: [] };
    } finally {
      deadline.done();
      this.#awaiting.delete(ticket);
    }
  }

  /**
   * Takes an envelope another server published with `reply`: writes the push to those of its
   * recipients here who can take it directly, and reports who did. The others get nothing
   * now: the sender makes the message pending for them and routes it again.
   */
  async take(envelope: ReportedEnvelope): Promise<void> {
    const { sessions, writer } = this.#deps;
    const takers = new Map<number, Session>();
    const declined: number[] = [];
    for (const userId of envelope.to) {
      const session = sessions.get(userId);
      if (!session) continue;
      if (writer.takes(userId, session)) takers.set(userId, session);
      else declined.push(userId);
    }
    const { taken } = await writer.write(takers, envelope.push as ChatPush, "remote");
    const { ticket } = envelope.reply;
    this.#report(
      envelope.reply.node,
      declined.length ? { ticket, taken, declined } : { ticket, taken },
    );
  }

  /** Hands reports another server sent to the sends waiting for them. */
  receiveReports(reports: readonly DirectReport[]): void {
    for (const report of reports) {
      const resolve = this.#awaiting.get(report.ticket);
      this.#awaiting.delete(report.ticket);
      resolve?.(report);
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
        this.#deps.warnings.warn("direct report failed; the sender makes the message pending", {
          error,
          node,
        });
      });
    }
  }
}
