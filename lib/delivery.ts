// Hands pushes to the users they are for, wherever they are logged in: to a session on this
// server, or through the bus to the server holding them. Chat messages first go directly where
// they can (lib/direct.ts, reached as `delivery.direct`); every push that comes here is for a
// recipient who has the message stored as pending, so a push that cannot be handed over now is
// not lost: it waits for the recipient's next login, or for the sweep after the cluster backend
// recovers (lib/redelivery.ts), for which Delivery remembers whom it failed to route.

import { setImmediate } from "node:timers";
import type { Bus, ChatBusMessage, Envelope, Presence } from "./cluster/types.ts";
import { DirectDelivery } from "./direct.ts";
import type { Logger } from "./log.ts";
import type { ServerMetrics } from "./metrics.ts";
import type { ChatPush } from "./protocol.ts";
import type { Session, SessionRegistry } from "./session.ts";
import { SharedFrame } from "./shared_frame.ts";
import type { MessageRepository } from "./store/types.ts";

export interface DeliveryDeps {
  sessions: SessionRegistry;
  presence: Presence;
  bus: Bus;
  messages: MessageRepository;
  log: Logger;
  metrics?: ServerMetrics;
  /** How long a direct push may take to be taken; DIRECT_WRITE_MS (lib/direct.ts) by default. */
  directWriteMs?: number;
}

/** Most recipients remembered as not routed (Redis away) until the next recovery sweep. */
export const UNROUTED_CAP = 10_000;

export class Delivery {
  readonly #deps: DeliveryDeps;
  /** Pushes written to sessions that do not send receipts, to mark delivered in one go. */
  #written = new Map<number, number[]>();
  #flushScheduled = false;
  /** Sessions logging in here, with the pushes that came for them before their backlog went. */
  readonly #holding = new Map<number, { session: Session; pushes: ChatPush[] }>();
  /** Recipients elsewhere whose pushes failed on a backend error, for the recovery sweep. */
  #unrouted = new Set<number>();

  /** Direct delivery of chat messages, falling back on this. */
  readonly direct: DirectDelivery;

  constructor(deps: DeliveryDeps) {
    this.#deps = deps;
    this.direct = new DirectDelivery({
      ...deps,
      fallback: {
        deliver: (recipients, push) => this.deliver(recipients, push),
        markWritten: (userId, mid) => this.#markWritten(userId, mid),
        isLoggingIn: (userId) => this.#holding.has(userId),
      },
    });
  }

  /** Pushes to every recipient online anywhere in the cluster. Never throws. */
  async deliver(recipients: readonly number[], push: ChatPush): Promise<void> {
    const { presence, log } = this.#deps;
    const elsewhere = this.#sendLocally(recipients, push);
    if (elsewhere.length === 0) return;
    let locations: Map<number, string>;
    try {
      locations = await presence.locate(elsewhere);
    } catch (error) {
      this.#deps.metrics?.backendError(error);
      this.#deps.metrics?.leftPending(elsewhere.length);
      this.rememberUnrouted(elsewhere);
      log.warn("presence lookup failed; pushes wait for Redis to recover", { error });
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
    this.#deps.metrics?.leftPending(offline);
    await Promise.all([...byNode].map(([node, to]) => this.#publish(node, { to, push })));
  }

  /** Handles what another server published to this one. */
  receive(message: ChatBusMessage): void {
    if ("reports" in message) {
      this.direct.receiveReports(message.reports);
      return;
    }
    const sentAt = message.sentAt;
    this.#deps.metrics?.envelopeReceived(
      typeof sentAt === "number" ? (Date.now() - sentAt) / 1000 : null,
    );
    if (message.reply) void this.direct.take({ ...message, reply: message.reply });
    else this.#sendLocally(message.to, message.push as ChatPush);
  }

  /**
   * Holds the pushes for `session` of `userId` (logging in) until `release`, so that none
   * overtakes the older messages of its backlog.
   */
  hold(userId: number, session: Session): void {
    this.#holding.set(userId, { session, pushes: [] });
  }

  /** True while `session` of `userId` is logging in (its backlog will carry what is pending). */
  isHolding(userId: number, session: Session): boolean {
    return this.#holding.get(userId)?.session === session;
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

  /** Sends what was held for the session, except the mids its backlog already carried. */
  release(userId: number, session: Session, sent: ReadonlySet<number>): void {
    const held = this.#holding.get(userId);
    if (held?.session !== session) return;
    this.#holding.delete(userId);
    if (this.#deps.sessions.get(userId) !== session) return;
    for (const push of held.pushes) if (!sent.has(push.mid)) this.#sendLocally([userId], push);
  }

  /** Sends to recipients with a session here; returns the others. */
  #sendLocally(recipients: readonly number[], push: ChatPush): number[] {
    const { sessions } = this.#deps;
    const elsewhere: number[] = [];
    let shared: SharedFrame | undefined;
    for (const userId of recipients) {
      const session = sessions.get(userId);
      if (!session) {
        elsewhere.push(userId);
        continue;
      }
      const held = this.#holding.get(userId);
      if (held?.session === session) {
        held.pushes.push(push);
        continue;
      }
      this.#write(session, shared ??= new SharedFrame(push), push);
      if (!session.receipts) {
        // Protocol v1 clients send no receipts: a push counts as delivered once written.
        session.written().then((written) => written && this.#markWritten(userId, push.mid));
      }
    }
    return elsewhere;
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
      this.#deps.log.warn("publish failed; pushes wait for Redis to recover", { error, node });
    }
  }

  /** Marks a push written to a receipt-less session delivered, batched per event-loop turn. */
  #markWritten(userId: number, mid: number): void {
    const mids = this.#written.get(userId);
    if (mids) mids.push(mid);
    else this.#written.set(userId, [mid]);
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => void this.#flushWritten());
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
        this.#deps.log.warn("could not mark pushes delivered; they will come again", {
          error,
          user: userId,
        });
      }
    }));
  }
}
