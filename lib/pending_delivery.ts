// Routes the pushes of messages that are pending for their recipients: to a session on this
// server, or through the bus to the server holding the recipient. Such a push can never be lost
// here: one that cannot be handed over now (recipient offline, Redis away, server gone) waits
// for the recipient's next login, or for the sweep after the cluster backend recovers
// (lib/redelivery.ts), for which this remembers whom it failed to route. A push written to a v1
// session (no receipts) counts as delivered: its pending row is acknowledged, in batches.

import { setImmediate } from "node:timers";
import type { Bus, Envelope, Presence } from "./cluster/types.ts";
import type { LogThrottle } from "./log_throttle.ts";
import type { LoginHolds } from "./login_holds.ts";
import type { ServerMetrics } from "./metrics.ts";
import type { ChatPush } from "./protocol.ts";
import type { Session, SessionRegistry } from "./session.ts";
import { SharedFrame } from "./shared_frame.ts";
import type { MessageRepository } from "./store/types.ts";

export interface PendingDeliveryDeps {
  sessions: SessionRegistry;
  presence: Presence;
  bus: Bus;
  messages: MessageRepository;
  holds: LoginHolds;
  warnings: LogThrottle;
  metrics?: ServerMetrics;
}

/** Most recipients remembered as not routed (Redis away) until the next recovery sweep. */
export const UNROUTED_CAP = 10_000;

export class PendingDelivery {
  readonly #deps: PendingDeliveryDeps;
  /** Pushes written to sessions that do not send receipts, to mark delivered in one go. */
  #written = new Map<number, number[]>();
  #flushScheduled = false;
  /** Recipients elsewhere whose pushes failed on a backend error, for the recovery sweep. */
  #unrouted = new Set<number>();

  constructor(deps: PendingDeliveryDeps) {
    this.#deps = deps;
  }

  /** Pushes to every recipient online anywhere in the cluster. Never throws. */
  async deliver(recipients: readonly number[], push: ChatPush): Promise<void> {
    const { presence, warnings, metrics } = this.#deps;
    const elsewhere = this.sendLocally(recipients, push);
    if (elsewhere.length === 0) return;
    let locations: Map<number, string>;
    try {
      locations = await presence.locate(elsewhere);
    } catch (error) {
      metrics?.backendError(error);
      metrics?.leftPending(elsewhere.length);
      this.rememberUnrouted(elsewhere);
      warnings.warn("presence lookup failed; pushes wait for Redis to recover", { error });
      return;
    }
    const byNode = new Map<string, number[]>();
    let offline = 0;
    for (const userId of elsewhere) {
      const node = locations.get(userId);
      if (node === undefined || node === presence.nodeId) {
        offline++;
        continue;
      }
      const users = byNode.get(node);
      if (users) users.push(userId);
      else byNode.set(node, [userId]);
    }
    metrics?.leftPending(offline);
    await Promise.all([...byNode].map(([node, to]) => this.#publish(node, { to, push })));
  }

  /** Sends to recipients with a session here (held if it is logging in); returns the others. */
  sendLocally(recipients: readonly number[], push: ChatPush): number[] {
    const { sessions, holds } = this.#deps;
    const elsewhere: number[] = [];
    let shared: SharedFrame | undefined;
    // The callbacks below outlive the push for as long as the write waits (a recipient that
    // stopped reading): they keep its mid, not the push and its text.
    const mid = push.mid;
    for (const userId of recipients) {
      const session = sessions.get(userId);
      if (!session) {
        elsewhere.push(userId);
        continue;
      }
      if (holds.keep(userId, session, push)) continue;
      this.#write(session, shared ??= new SharedFrame(push), push);
      if (!session.receipts) {
        // Protocol v1 clients send no receipts: a push counts as delivered once written.
        session.written().then((written) => written && this.markWritten(userId, mid));
      }
    }
    return elsewhere;
  }

  /** Counts a push written to a v1 session as delivered; acknowledged once per event-loop turn. */
  markWritten(userId: number, mid: number): void {
    const mids = this.#written.get(userId);
    if (mids) mids.push(mid);
    else this.#written.set(userId, [mid]);
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => void this.#flushWritten());
  }

  /** The recipients remembered as not routed since the last call, forgotten now. */
  takeUnrouted(): number[] {
    const userIds = [...this.#unrouted];
    this.#unrouted = new Set();
    return userIds;
  }

  /**
   * Remembers recipients whose pushes could not be routed, for the recovery sweep. Beyond the
   * cap they are not remembered: their pushes wait for their next login.
   */
  rememberUnrouted(userIds: readonly number[]): void {
    for (const userId of userIds) {
      if (this.#unrouted.size >= UNROUTED_CAP) return;
      this.#unrouted.add(userId);
    }
  }

  #write(session: Session, shared: SharedFrame, push: ChatPush): void {
    session.sendShared(shared);
    this.#deps.metrics?.frameOut(push);
    this.#deps.metrics?.delivered((Date.now() - Date.parse(push.time)) / 1000);
  }

  async #publish(node: string, envelope: Envelope): Promise<void> {
    const stamped: Envelope = { ...envelope, sentAt: Date.now() };
    try {
      if (!await this.#deps.bus.publish(node, stamped)) {
        this.#deps.metrics?.leftPending(envelope.to.length);
      }
    } catch (error) {
      this.#deps.metrics?.backendError(error);
      this.#deps.metrics?.leftPending(envelope.to.length);
      this.rememberUnrouted(envelope.to);
      this.#deps.warnings.warn("publish failed; pushes wait for Redis to recover", { error, node });
    }
  }

  async #flushWritten(): Promise<void> {
    const batch = this.#written;
    this.#written = new Map();
    this.#flushScheduled = false;
    await Promise.all([...batch].map(async ([userId, mids]) => {
      try {
        await this.#deps.messages.acknowledge(userId, mids);
      } catch (error) {
        this.#deps.metrics?.backendError(error);
        this.#deps.warnings.warn("could not mark pushes delivered; they will come again", {
          error,
          user: userId,
        });
      }
    }));
  }
}
