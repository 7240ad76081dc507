// Delivery of chat messages, from one entry point: `send(message)` routes the recipients
// (lib/direct.ts decides per recipient whether direct delivery is worth trying), stores the
// message pending for those it is not, writes it directly to the others, and falls back for
// whoever did not take it in time: the message is made pending for them and routed the usual
// way (lib/pending_delivery.ts). It resolves once every recipient has the message written to
// their connection or pending, which is what an errno 0 ACK promises. Besides, what another
// server publishes to this one comes in here (`receive`), and a login holds live pushes until
// its backlog is out (`hold`, `release`: lib/login_holds.ts), and receipts sessions hold their
// delivery cursors (`openCursor`, `confirm`, `closeCursor`: lib/delivery_cursor.ts).

import type { Bus, ChatBusMessage, Presence } from "./cluster/types.ts";
import { DeliveryCursors } from "./delivery_cursor.ts";
import { DirectDelivery, type Routes } from "./direct.ts";
import type { LogThrottle } from "./log_throttle.ts";
import { LoginHolds } from "./login_holds.ts";
import type { ServerMetrics } from "./metrics.ts";
import { PendingDelivery } from "./pending_delivery.ts";
import type { ChatPush } from "./protocol.ts";
import { pushOf } from "./push.ts";
import type { Session, SessionRegistry } from "./session.ts";
import type { Timers } from "./shared_deadline.ts";
import type { NewMessage, Repositories, StoredMessage } from "./store/types.ts";

export interface DeliveryDeps {
  sessions: SessionRegistry;
  presence: Presence;
  bus: Bus;
  store: Pick<Repositories, "messages" | "groups" | "cursors">;
  /** Where backend failures are logged, thinned out (one line per kind per interval). */
  warnings: LogThrottle;
  metrics?: ServerMetrics;
  /** How long a direct write may take before its session is late (lib/direct_writer.ts). */
  directWriteMs?: number;
  /** How long to wait for another server's report of a direct write (lib/direct_remote.ts). */
  directReportMs?: number;
  /** The timers of those deadlines; the system's by default. */
  timers?: Timers;
}

export class Delivery {
  readonly #deps: DeliveryDeps;
  readonly #holds = new LoginHolds();
  readonly #direct: DirectDelivery;
  readonly #pending: PendingDelivery;
  readonly #cursors: DeliveryCursors;

  constructor(deps: DeliveryDeps) {
    this.#deps = deps;
    const { sessions, presence, bus, warnings, metrics } = deps;
    this.#cursors = new DeliveryCursors({
      cursors: deps.store.cursors,
      messages: deps.store.messages,
      warnings,
      metrics,
    });
    this.#pending = new PendingDelivery({
      sessions,
      presence,
      bus,
      messages: deps.store.messages,
      holds: this.#holds,
      warnings,
      metrics,
    });
    this.#direct = new DirectDelivery({
      sessions,
      presence,
      bus,
      holds: this.#holds,
      cursors: this.#cursors,
      warnings,
      metrics,
      writeMs: deps.directWriteMs,
      reportMs: deps.directReportMs,
      timers: deps.timers,
    });
  }

  /**
   * Stores `message` and hands it to every recipient; resolves with the stored message once
   * each has it written or pending (see the header). Throws what the store throws.
   *
   * A retried request (a key used before) stores nothing and hands the earlier message again to
   * that message's own recipients, whatever the retry named: those who cannot take it directly
   * have it made pending again (a crash may have come between the store and the direct writes),
   * so it may come once more at their next login; recipients drop it by mid if they have it.
   */
  async send(message: NewMessage): Promise<StoredMessage> {
    const { messages } = this.#deps.store;
    let routes = await this.#direct.route(message.recipients);
    const appended = await messages.append({ ...message, recipients: routes.stored });
    const stored = appended.message;
    if (appended.duplicate) {
      routes = await this.#direct.route(await this.#recipientsOf(stored));
      await messages.addPending(stored.mid, routes.stored);
    } else {
      this.#deps.metrics?.messageStored();
    }
    const push = pushOf(stored);
    if (routes.stored.length === 0) await this.#sendDirect(routes, push);
    else await Promise.all([this.#sendDirect(routes, push), this.deliver(routes.stored, push)]);
    return stored;
  }

  /** Pushes a pending message to every recipient online anywhere in the cluster. Never throws. */
  deliver(recipients: readonly number[], push: ChatPush): Promise<void> {
    return this.#pending.deliver(recipients, push);
  }

  /** Handles what another server published to this one. */
  receive(message: ChatBusMessage): void {
    if ("reports" in message) {
      this.#direct.receiveReports(message.reports);
      return;
    }
    const sentAt = message.sentAt;
    this.#deps.metrics?.envelopeReceived(
      typeof sentAt === "number" ? (Date.now() - sentAt) / 1000 : null,
    );
    if (message.reply) void this.#direct.take({ ...message, reply: message.reply });
    else this.#pending.sendLocally(message.to, message.push as ChatPush);
  }

  /**
   * Holds the pushes for `session` of `userId` (logging in) until `release`, so that none
   * overtakes the older messages of its backlog.
   */
  hold(userId: number, session: Session): void {
    this.#holds.hold(userId, session);
  }

  /** True while `session` of `userId` is logging in (its backlog will carry what is pending). */
  isHolding(userId: number, session: Session): boolean {
    return this.#holds.isHolding(userId, session);
  }

  /** Sends what was held for the session, except the mids its backlog already carried. */
  release(userId: number, session: Session, sent: ReadonlySet<number>): void {
    const held = this.#holds.release(userId, session);
    if (held.length === 0 || this.#deps.sessions.get(userId) !== session) return;
    for (const push of held) if (!sent.has(push.mid)) this.#pending.sendLocally([userId], push);
  }

  /**
   * Opens the delivery cursor of a receipts session logging in (lib/delivery_cursor.ts): returns
   * what an earlier session took directly and may not have confirmed, for its backlog. Read the
   * pending rows after it. Throws what the store throws.
   */
  openCursor(userId: number, session: Session): Promise<StoredMessage[]> {
    return this.#cursors.open(userId, session);
  }

  /** Takes a receipts session's acknowledgements; returns the mids that are pending rows. */
  confirm(session: Session, mids: readonly number[]): number[] {
    return this.#cursors.confirm(session, mids);
  }

  /** Ends a receipts session's cursor: what it did not confirm is made pending. Never throws. */
  closeCursor(session: Session): Promise<void> {
    return this.#cursors.close(session);
  }

  /** Stops the cursors' timer after sending the store where they stand. Never throws. */
  stop(): Promise<void> {
    return this.#cursors.flush();
  }

  /** The recipients remembered as not routed since the last call, forgotten now. */
  takeUnrouted(): number[] {
    return this.#pending.takeUnrouted();
  }

  /** Remembers recipients whose pushes could not be routed, for the recovery sweep. */
  rememberUnrouted(userIds: readonly number[]): void {
    this.#pending.rememberUnrouted(userIds);
  }

  /**
   * Writes the push to the recipients taking it directly; whoever did not take it in time has
   * the message made pending (before this resolves) and is routed the usual way.
   */
  async #sendDirect(routes: Routes, push: ChatPush): Promise<void> {
    if (routes.local.size === 0 && routes.remote.size === 0) return;
    const { missed, late } = await this.#direct.send(routes, push);
    if (missed.length === 0 && late.size === 0) return;
    await this.#deps.store.messages.addPending(push.mid, [...missed, ...late.keys()]);
    for (const [userId, write] of late) {
      write.then((written) =>
        written ? this.#pending.markWritten(userId, push.mid) : this.deliver([userId], push)
      );
    }
    await this.deliver(missed, push);
  }

  /** Who a stored message is for: its recipient, or the other members of its group now. */
  async #recipientsOf(message: StoredMessage): Promise<number[]> {
    if (message.groupId === null) return message.toId === null ? [] : [message.toId];
    const members = await this.#deps.store.groups.memberIds(message.groupId);
    return members.filter((id) => id !== message.senderId);
  }
}
