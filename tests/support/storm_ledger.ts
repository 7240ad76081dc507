// The books of a message storm: what each client meant to send, what the server acknowledged,
// and every push each recipient got. From them, the report: deliveries counted once per
// (recipient, mid) after client-side dedupe, acknowledged messages that never arrived, and
// pushes from one sender to one recipient that arrived out of mid order.

import type { Frame } from "../../lib/protocol.ts";

/** One chat request a storm client sends until it is acknowledged with errno 0. */
export interface PlannedMessage {
  /** Idempotency key, also the first word of `msg`, so a push names the request it came from. */
  key: string;
  senderId: number;
  /** 6 (one-to-one, `target` is toid) or 10 (group, `target` is groupid). */
  msgid: 6 | 10;
  target: number;
  /** Who must receive it: the addressee, or every other group member. */
  recipients: readonly number[];
  msg: string;
}

interface SentRecord {
  planned: PlannedMessage;
  attempts: number;
  /** The mid of its errno 0 ACK, once there is one. */
  ackedMid: number | null;
}

export interface StormReport {
  /** Messages planned (one idempotency key each). */
  planned: number;
  /** Chat requests sent, retries included. */
  attempts: number;
  /** Messages acknowledged with errno 0. */
  acked: number;
  /** Deliveries owed: one per recipient of every acknowledged message. */
  expected: number;
  /** Distinct (recipient, mid) pairs received. */
  delivered: number;
  /** Deliveries first received while draining (after the storm, at a fresh login). */
  deliveredAtDrain: number;
  /** Pushes received in all, duplicates included. */
  received: number;
  /** Pushes dropped by client-side dedupe (same recipient, same mid). */
  duplicatesSuppressed: number;
  /** (recipient, mid) pairs acknowledged but never received. */
  lost: number;
  /** Pushes that overtook a later message of the same sender to the same recipient. */
  orderViolations: number;
  /** Request outcomes by kind and errno, e.g. "chat errno 9": 3. */
  outcomes: Record<string, number>;
  /** Anything impossible: unknown keys, wrong recipients, one key under two mids. */
  problems: string[];
  /** A few examples of lost deliveries and order violations. */
  examples: string[];
}

const EXAMPLES = 10;

export class StormLedger {
  readonly #sent = new Map<string, SentRecord>();
  /** recipient → mid → pushes received. */
  readonly #received = new Map<number, Map<number, number>>();
  /** recipient → [mid, sender, how it came] in the order first received. */
  readonly #firstSeen = new Map<number, Array<[number, number, string]>>();
  /** The mid each key was given, from ACKs and pushes. */
  readonly #midOfKey = new Map<string, number>();
  readonly #outcomes = new Map<string, number>();
  readonly #problems: string[] = [];
  #acked = 0;
  #pushes = 0;
  #deliveredAtDrain = 0;
  /** Set once the storm is over and clients collect what is still pending. */
  draining = false;

  get acked(): number {
    return this.#acked;
  }

  /** Pushes received so far; it stops growing once deliveries have settled. */
  get pushes(): number {
    return this.#pushes;
  }

  plan(message: PlannedMessage): void {
    this.#sent.set(message.key, { planned: message, attempts: 0, ackedMid: null });
  }

  /** Counts one request (chat, login, receipt) by its outcome. */
  outcome(kind: string, errno: unknown): void {
    const label = `${kind} errno ${errno}`;
    this.#outcomes.set(label, (this.#outcomes.get(label) ?? 0) + 1);
  }

  /** Records the response to one attempt at sending `key`; true when it is errno 0. */
  reply(key: string, response: Frame): boolean {
    const record = this.#sent.get(key)!;
    record.attempts++;
    this.outcome("chat", response.errno);
    if (response.errno !== 0) return false;
    const mid = response.mid;
    if (typeof mid !== "number") {
      this.problem(`ACK for ${key} has no mid: ${JSON.stringify(response)}`);
      return true;
    }
    this.#bindMid(key, mid);
    if (record.ackedMid === null) this.#acked++;
    record.ackedMid = mid;
    return true;
  }

  /** Records an attempt that got no response (connection lost, timeout). */
  noReply(key: string, why: string): void {
    this.#sent.get(key)!.attempts++;
    this.outcome("chat", why);
  }

  /** Records a chat push received by `recipient`. */
  delivered(recipient: number, push: Frame, source = "live"): void {
    this.#pushes++;
    const mid = push.mid;
    const key = typeof push.msg === "string" ? push.msg.split(" ", 1)[0] : "";
    const record = this.#sent.get(key);
    if (typeof mid !== "number" || !record) {
      this.problem(`user ${recipient} got an unknown push: ${JSON.stringify(push).slice(0, 200)}`);
      return;
    }
    const { planned } = record;
    const addressedRight = push.msgid === planned.msgid && push.id === planned.senderId &&
      (planned.msgid === 6 ? push.toid === planned.target : push.groupid === planned.target) &&
      push.msg === planned.msg && planned.recipients.includes(recipient);
    if (!addressedRight) {
      this.problem(`user ${recipient} got a wrong push for ${key}: ${JSON.stringify(push)}`);
    }
    this.#bindMid(key, mid);
    let counts = this.#received.get(recipient);
    if (!counts) this.#received.set(recipient, counts = new Map());
    const count = counts.get(mid) ?? 0;
    counts.set(mid, count + 1);
    if (count > 0) return;
    if (this.draining) this.#deliveredAtDrain++;
    let seen = this.#firstSeen.get(recipient);
    if (!seen) this.#firstSeen.set(recipient, seen = []);
    seen.push([mid, planned.senderId, source]);
  }

  /** The mid `key` was acknowledged with, if it was. */
  ackedMid(key: string): number | null {
    return this.#sent.get(key)?.ackedMid ?? null;
  }

  /** True once `recipient` has received `mid`. */
  hasReceived(recipient: number, mid: number): boolean {
    return this.#received.get(recipient)?.has(mid) ?? false;
  }

  problem(text: string): void {
    this.#problems.push(text);
  }

  report(): StormReport {
    let attempts = 0, expected = 0, lost = 0, received = 0, delivered = 0;
    const examples: string[] = [];
    for (const { planned, attempts: tries, ackedMid } of this.#sent.values()) {
      attempts += tries;
      if (ackedMid === null) continue;
      for (const recipient of planned.recipients) {
        expected++;
        if (!this.#received.get(recipient)?.has(ackedMid)) {
          lost++;
          if (examples.length < EXAMPLES) {
            examples.push(`lost: ${planned.key} (mid ${ackedMid}) never reached user ${recipient}`);
          }
        }
      }
    }
    for (const counts of this.#received.values()) {
      delivered += counts.size;
      for (const count of counts.values()) received += count;
    }
    let orderViolations = 0;
    for (const [recipient, seen] of this.#firstSeen) {
      const lastFrom = new Map<number, [number, string]>();
      for (const [mid, sender, source] of seen) {
        const [last, lastSource] = lastFrom.get(sender) ?? [0, ""];
        if (mid < last) {
          orderViolations++;
          if (examples.length < 2 * EXAMPLES) {
            examples.push(
              `order: user ${recipient} got mid ${mid} (${source}) from ${sender} ` +
                `after ${last} (${lastSource})`,
            );
          }
        } else {
          lastFrom.set(sender, [mid, source]);
        }
      }
    }
    return {
      planned: this.#sent.size,
      attempts,
      acked: this.#acked,
      expected,
      delivered,
      deliveredAtDrain: this.#deliveredAtDrain,
      received,
      duplicatesSuppressed: received - delivered,
      lost,
      orderViolations,
      outcomes: Object.fromEntries([...this.#outcomes].sort()),
      problems: this.#problems.slice(0, 20),
      examples,
    };
  }

  #bindMid(key: string, mid: number): void {
    const known = this.#midOfKey.get(key);
    if (known === undefined) this.#midOfKey.set(key, mid);
    else if (known !== mid) this.problem(`key ${key} was stored twice: mids ${known} and ${mid}`);
  }
}

/** The report as a few lines for the test log. */
export function formatReport(title: string, report: StormReport): string {
  const { outcomes, problems, examples, ...counts } = report;
  return [
    `${title}: ${Object.entries(counts).map(([name, value]) => `${name}=${value}`).join(" ")}`,
    `  outcomes: ${Object.entries(outcomes).map(([name, n]) => `${name}: ${n}`).join(", ")}`,
    ...problems.map((text) => `  problem: ${text}`),
    ...examples.map((text) => `  ${text}`),
  ].join("\n");
}
