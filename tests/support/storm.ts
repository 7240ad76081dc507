// A message storm against a real chat cluster: one client per user, each sending its planned
// messages one at a time with an idempotency key, acknowledging every push with RECEIPT, and,
// when its connection dies, reconnecting, logging in again and retrying what was not
// acknowledged with the same key. Everything is written down in a StormLedger.

import type { Frame } from "../../lib/protocol.ts";
import type { Seeded } from "./chat_fixture.ts";
import { PASSWORD } from "./chat_fixture.ts";
import { ChatLink, LinkClosedError } from "./chat_link.ts";
import type { Prng } from "./prng.ts";
import type { PlannedMessage, StormLedger } from "./storm_ledger.ts";

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Waits for `promise`, failing with `what` after `ms`. */
export async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export interface PlanOptions {
  messagesPerUser: number;
  /** Share of messages sent to the sender's group rather than to one user. */
  groupShare: number;
}

/** Plans every user's messages (recorded in the ledger); returns them by sender. */
export function planStorm(
  seeded: Seeded,
  prng: Prng,
  ledger: StormLedger,
  options: PlanOptions,
): Map<number, PlannedMessage[]> {
  const { userIds, groups } = seeded;
  const plans = new Map<number, PlannedMessage[]>();
  for (const senderId of userIds) {
    const group = groups.find((g) => g.members.includes(senderId));
    const plan: PlannedMessage[] = [];
    for (let n = 0; n < options.messagesPerUser; n++) {
      const key = `u${senderId}m${n}`;
      const msg = `${key} ${"é😀 x".repeat(prng.int(1, 40))}`;
      let message: PlannedMessage;
      if (group && prng.chance(options.groupShare)) {
        const recipients = group.members.filter((id) => id !== senderId);
        message = { key, senderId, msgid: 10, target: group.id, recipients, msg };
      } else {
        let toid = prng.pick(userIds);
        while (toid === senderId) toid = prng.pick(userIds);
        message = { key, senderId, msgid: 6, target: toid, recipients: [toid], msg };
      }
      ledger.plan(message);
      plan.push(message);
    }
    plans.set(senderId, plan);
  }
  return plans;
}

export interface StormOptions {
  /** Where clients connect (nginx). */
  port: number;
  ledger: StormLedger;
  plans: Map<number, PlannedMessage[]>;
  prng: Prng;
  /** Mean pause before each send, ms. */
  thinkMs: number;
  /** Chance that a client drops its connection (no logout) before a send, and reconnects. */
  dropShare?: number;
  /** How long a request may go unanswered before the client gives up on the connection. */
  requestTimeoutMs?: number;
  /** How long a client keeps trying to log in before failing the storm. */
  loginWithinMs?: number;
}

export class Storm {
  readonly users: StormUser[];
  readonly #ledger: StormLedger;
  #closed = false;

  constructor(options: StormOptions) {
    this.#ledger = options.ledger;
    this.users = [...options.plans].map(([id, plan]) =>
      new StormUser(id, plan, options, options.prng.fork())
    );
  }

  /**
   * Every client sends its whole plan; resolves when all are acknowledged and every client is
   * logged in (one whose connection died after its last send has logged in again).
   */
  async run(): Promise<void> {
    await Promise.all(this.users.map((user) => user.run()));
    await Promise.all(this.users.map((user) => user.online()));
  }

  /** Resolves once `count` messages have been acknowledged (or the storm is closed). */
  async untilAcked(count: number): Promise<void> {
    while (this.#ledger.acked < count && !this.#closed) await sleep(20);
  }

  /** Waits until no push arrived for `quietMs` (at most `maxMs`). */
  async settle(quietMs: number, maxMs: number): Promise<void> {
    const deadline = Date.now() + maxMs;
    let last = -1;
    while (this.#ledger.pushes !== last && Date.now() < deadline) {
      last = this.#ledger.pushes;
      await sleep(quietMs);
    }
  }

  /**
   * Every client acknowledges what it holds and logs out, logs in again to collect what is still
   * pending for it, then once more to check that nothing is left.
   */
  async drain(concurrency = 50): Promise<void> {
    this.#ledger.draining = true;
    const queue = [...this.users];
    await Promise.all(Array.from({ length: concurrency }, async () => {
      for (let user = queue.shift(); user; user = queue.shift()) await user.drain();
    }));
  }

  /**
   * Sends `count` more messages, each from a client to one logged in on another server, and
   * returns how many arrived as live pushes within `withinMs` (the rest wait to be drained).
   */
  async probeLive(count: number, prng: Prng, withinMs = 5_000): Promise<number> {
    await this.#spread(prng);
    let arrived = 0;
    for (let n = 0; n < count; n++) {
      const sender = prng.pick(this.users);
      const others = this.users.filter((user) => user.node !== null && user.node !== sender.node);
      if (sender.node === null || others.length === 0) continue;
      const recipient = prng.pick(others);
      const key = `probe${n}`;
      const message: PlannedMessage = {
        key,
        senderId: sender.id,
        msgid: 6,
        target: recipient.id,
        recipients: [recipient.id],
        msg: `${key} are you there?`,
      };
      this.#ledger.plan(message);
      await sender.send(message);
      const mid = this.#ledger.ackedMid(key)!;
      const deadline = Date.now() + withinMs;
      while (!this.#ledger.hasReceived(recipient.id, mid) && Date.now() < deadline) await sleep(10);
      if (this.#ledger.hasReceived(recipient.id, mid)) arrived++;
    }
    return arrived;
  }

  /** Logs clients in again until at least two servers hold some (at most 30 tries). */
  async #spread(prng: Prng): Promise<void> {
    for (let tries = 0; tries < 30; tries++) {
      const nodes = new Set(this.users.map((user) => user.node));
      if (nodes.size > 1) return;
      await prng.pick(this.users).relogin();
    }
  }

  /** Total logins and the number of clients that had to reconnect at least once. */
  get reconnects(): { logins: number; reconnected: number } {
    return {
      logins: this.users.reduce((sum, user) => sum + user.logins, 0),
      reconnected: this.users.filter((user) => user.logins > 1).length,
    };
  }

  close(): void {
    this.#closed = true;
    for (const user of this.users) user.close();
  }
}

class StormUser {
  readonly id: number;
  logins = 0;
  /** The server of the current login, as its reply said. */
  node: string | null = null;
  readonly #plan: PlannedMessage[];
  readonly #options: StormOptions;
  readonly #prng: Prng;
  #link: ChatLink | null = null;
  readonly #unreceipted = new Set<number>();
  #receiptTimer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  constructor(id: number, plan: PlannedMessage[], options: StormOptions, prng: Prng) {
    this.id = id;
    this.#plan = plan;
    this.#options = options;
    this.#prng = prng;
  }

  get #ledger(): StormLedger {
    return this.#options.ledger;
  }

  async run(): Promise<void> {
    for (const message of this.#plan) {
      await sleep(this.#prng.int(0, 2 * this.#options.thinkMs));
      if (this.#prng.chance(this.#options.dropShare ?? 0)) this.#link?.close();
      await this.#sendUntilAcknowledged(message);
    }
  }

  async drain(): Promise<void> {
    await this.#online();
    await this.#logout();
    const collect = await this.#online();
    const owed = Number(collect.reply.offlinemore ?? 0);
    const link = collect.link;
    while (link.livePushes - link.livePushesAtLogin < owed && !link.isClosed) await sleep(10);
    await this.#logout();
    const check = await this.#online();
    const left = (check.reply.offlinemsg as unknown[]).length + Number(check.reply.offlinemore);
    if (left > 0) this.#ledger.problem(`user ${this.id} still had ${left} pending after receipts`);
    await this.#logout();
  }

  /** Logs in unless logged in already. */
  async online(): Promise<void> {
    await this.#online();
  }

  /** Logs out and in again, through the balancer. */
  async relogin(): Promise<void> {
    await this.#online();
    await this.#logout();
    await this.#online();
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#receiptTimer);
    this.#link?.close();
  }

  /** Sends until acknowledged (or refused for good). */
  send(message: PlannedMessage): Promise<void> {
    return this.#sendUntilAcknowledged(message);
  }

  async #sendUntilAcknowledged(message: PlannedMessage): Promise<void> {
    const { key, msgid, target, msg } = message;
    const frame: Frame = msgid === 6
      ? { msgid, toid: target, msg, key }
      : { msgid, groupid: target, msg, key };
    while (!this.#closed) {
      const { link } = await this.#online();
      let response: Frame;
      try {
        response = await link.request(frame, this.#options.requestTimeoutMs ?? 10_000);
      } catch (error) {
        this.#ledger.noReply(key, error instanceof LinkClosedError ? "closed" : "timeout");
        link.close();
        continue;
      }
      if (this.#ledger.reply(key, response)) return;
      if (response.errno !== 8 && response.errno !== 9) {
        this.#ledger.problem(`${key} refused: ${JSON.stringify(response)}`);
        return;
      }
      await sleep(this.#prng.int(50, 250));
    }
  }

  /** The logged-in connection, connecting and logging in (with receipts) when there is none. */
  async #online(): Promise<{ link: ChatLink; reply: Frame }> {
    if (this.#link && !this.#link.isClosed) return { link: this.#link, reply: {} };
    const deadline = Date.now() + (this.#options.loginWithinMs ?? 30_000);
    let last: unknown = "no attempt";
    while (Date.now() < deadline && !this.#closed) {
      let link: ChatLink | undefined;
      try {
        link = await ChatLink.connect(this.#options.port);
        const login = this.logins + 1;
        link.onPush = (push, source) => this.#onPush(push, `${source}, login ${login}`);
        const reply = await link.request({
          msgid: 1,
          id: this.id,
          password: PASSWORD,
          receipts: true,
        });
        this.#ledger.outcome("login", reply.errno);
        if (reply.errno === 0) {
          this.#link = link;
          this.node = typeof reply.node === "string" ? reply.node : null;
          this.logins++;
          this.#scheduleReceipts();
          return { link, reply };
        }
        last = JSON.stringify(reply);
      } catch (error) {
        last = error;
      }
      link?.close();
      await sleep(this.#prng.int(100, 300));
    }
    throw new Error(`user ${this.id} could not log in: ${String(last)}`);
  }

  async #logout(): Promise<void> {
    const link = this.#link!;
    await this.#flushReceipts();
    const reply = await link.request({ msgid: 3 });
    this.#ledger.outcome("logout", reply.errno);
    link.close();
    this.#link = null;
    this.node = null;
  }

  #onPush(push: Frame, source: string): void {
    this.#ledger.delivered(this.id, push, source);
    if (typeof push.mid !== "number") return;
    this.#unreceipted.add(push.mid);
    this.#scheduleReceipts();
  }

  /** Sends the receipts soon; after a failure, a little later. */
  #scheduleReceipts(delayMs = 10): void {
    if (this.#closed || this.#unreceipted.size === 0) return;
    this.#receiptTimer ??= setTimeout(() => {
      this.#receiptTimer = undefined;
      this.#flushReceipts().catch(() => this.#scheduleReceipts(this.#prng.int(100, 250)));
    }, delayMs);
  }

  /** Sends RECEIPTs for everything received; what could not be acknowledged is kept for later. */
  async #flushReceipts(): Promise<void> {
    while (this.#unreceipted.size > 0) {
      const link = this.#link;
      if (!link || link.isClosed) return;
      const mids = [...this.#unreceipted].slice(0, 1000);
      for (const mid of mids) this.#unreceipted.delete(mid);
      let reply: Frame;
      try {
        reply = await link.request({ msgid: 13, mids });
      } catch (error) {
        for (const mid of mids) this.#unreceipted.add(mid);
        throw error;
      }
      this.#ledger.outcome("receipt", reply.errno);
      if (reply.errno !== 0) {
        for (const mid of mids) this.#unreceipted.add(mid);
        throw new Error(`receipt refused with errno ${reply.errno}`);
      }
    }
  }
}
