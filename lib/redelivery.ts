// After the cluster backend comes back from an outage, re-sends what may have missed its
// recipients meanwhile: the pending messages of every user logged in here (pushes for them could
// not reach this server), and those of the users elsewhere whom this server could not route
// pushes to (Delivery remembers them). What the sweep itself cannot do (the database is away
// too, say) is retried with backoff until it succeeds. Clients drop what they already have by
// mid; v1 sessions count what is written as delivered, as everywhere else.

import type { Bus, Presence } from "./cluster/types.ts";
import type { Delivery } from "./delivery.ts";
import { BACKLOG_BATCH } from "./handlers/backlog.ts";
import { pushOf } from "./push.ts";
import type { Logger } from "./log.ts";
import type { ServerMetrics } from "./metrics.ts";
import type { SessionRegistry } from "./session.ts";
import type { MessageRepository } from "./store/types.ts";

/** Sessions swept at the same time. */
const SWEEP_CONCURRENCY = 4;
/**
 * Wait after a recovery report before sweeping: one Redis restart brings several (each
 * connection, the presence re-marking), and they make one sweep.
 */
export const RECOVERY_SETTLE_MS = 250;
/** First wait before retrying what a sweep could not do; doubled up to the maximum. */
export const RETRY_FIRST_MS = 500;
export const RETRY_MAX_MS = 30_000;

export interface RedeliveryDeps {
  sessions: SessionRegistry;
  delivery: Delivery;
  presence: Presence;
  messages: MessageRepository;
  log: Logger;
  metrics?: ServerMetrics;
  /** First retry delay (ms); RETRY_FIRST_MS unless given. */
  retryFirstMs?: number;
}

export class Redelivery {
  readonly #deps: RedeliveryDeps;
  #running: Promise<void> | null = null;
  /** A sweep of every session here is due (a recovery was reported). */
  #fullDue = false;
  /** Users here whose re-send failed, for the retry. */
  #failed = new Set<number>();
  /** Something of the last sweep failed: a retry is due after `#retryDelayMs`. */
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  /** A sweep due once recovery reports settle, and what settles when it is done. */
  #settleTimer: ReturnType<typeof setTimeout> | undefined;
  #settled: { promise: Promise<void>; resolve: () => void } | undefined;
  #retryDelayMs: number;
  /** What made the last sweep fail, for the retry's warning. */
  #lastError: unknown;
  #stopped = false;
  /** Deliveries pushed again by the sweep under way. */
  #resent = 0;

  constructor(deps: RedeliveryDeps) {
    this.#deps = deps;
    this.#retryDelayMs = deps.retryFirstMs ?? RETRY_FIRST_MS;
  }

  /**
   * Sweeps after the bus or the presence reports a recovery (if they ever do), once the reports
   * of the same outage have settled.
   */
  watch(bus: Bus, presence: Presence): void {
    const sweepSoon = () => this.#sweepSoon();
    bus.onRecovered?.(sweepSoon);
    presence.onRecovered?.(sweepSoon);
  }

  #sweepSoon(): void {
    if (this.#stopped || this.#settleTimer !== undefined) return;
    const settled = this.#settled ??= Promise.withResolvers<void>();
    this.#settleTimer = setTimeout(() => {
      this.#settleTimer = undefined;
      this.#settled = undefined;
      void this.sweep().then(settled.resolve);
    }, RECOVERY_SETTLE_MS);
  }

  /**
   * Sweeps every session here now or, if a sweep is under way, once more after it. Resolves
   * when no sweep is under way or due (a retry may be scheduled). Never throws.
   */
  sweep(): Promise<void> {
    this.#fullDue = true;
    return this.#start();
  }

  /** Resolves when no sweep is under way or due (a retry may be scheduled). */
  async idle(): Promise<void> {
    await this.#settled?.promise;
    await this.#running;
  }

  /** Stops sweeping (before the next batch) and waits for the sweep under way. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#retryTimer);
    clearTimeout(this.#settleTimer);
    this.#settleTimer = undefined;
    this.#settled?.resolve();
    this.#settled = undefined;
    await this.idle();
  }

  #start(): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    this.#running ??= this.#sweepUntilDone().finally(() => this.#running = null);
    return this.#running;
  }

  async #sweepUntilDone(): Promise<void> {
    let retry = false;
    do {
      const full = this.#fullDue;
      this.#fullDue = false;
      retry = !await this.#sweepOnce(full);
    } while (this.#fullDue && !this.#stopped);
    if (retry) this.#scheduleRetry();
    else this.#retryDelayMs = this.#deps.retryFirstMs ?? RETRY_FIRST_MS;
  }

  #scheduleRetry(): void {
    if (this.#stopped) return;
    const delayMs = this.#retryDelayMs;
    this.#retryDelayMs = Math.min(2 * delayMs, RETRY_MAX_MS);
    this.#deps.log.warn("could not re-send every pending message; retrying", {
      error: this.#lastError,
      users: this.#failed.size,
      retryMs: delayMs,
    });
    this.#retryTimer = setTimeout(() => void this.#start(), delayMs);
  }

  /** One pass over every session here (`full`) or only the failed ones; true if all went. */
  async #sweepOnce(full: boolean): Promise<boolean> {
    const { sessions, delivery, log } = this.#deps;
    const unrouted = delivery.takeUnrouted();
    const local = full ? sessions.userIds() : [...this.#failed];
    this.#failed = new Set();
    log.info("re-sending pending messages after a cluster outage", {
      sessions: local.length,
      unrouted: unrouted.length,
    });
    this.#resent = 0;
    let next = 0;
    await Promise.all(Array.from({ length: SWEEP_CONCURRENCY }, async () => {
      while (next < local.length && !this.#stopped) await this.#resendLocal(local[next++]);
    }));
    const forwarded = await this.#forward(unrouted.filter((userId) => !sessions.get(userId)));
    this.#deps.metrics?.redelivered(this.#resent);
    return forwarded && this.#failed.size === 0;
  }

  /** Writes the user's pending messages to their session here, one batch at a time. */
  async #resendLocal(userId: number): Promise<void> {
    const { sessions, delivery, messages } = this.#deps;
    const session = sessions.get(userId);
    // A session logging in gets everything pending in its backlog anyway.
    if (!session || delivery.isHolding(userId, session)) return;
    try {
      const pending = await messages.pending(userId);
      for (let start = 0; start < pending.length; start += BACKLOG_BATCH) {
        if (this.#stopped || sessions.get(userId) !== session) return;
        if (delivery.isHolding(userId, session)) return;
        const batch = pending.slice(start, start + BACKLOG_BATCH).map(pushOf);
        for (const push of batch) session.send(push);
        this.#resent += batch.length;
        if (!await session.written()) return;
        if (!session.receipts) await messages.acknowledge(userId, batch.map((push) => push.mid));
      }
    } catch (error) {
      this.#failed.add(userId);
      this.#backendError(error, userId);
    }
  }

  /**
   * Hands the pending messages of users on other servers to Delivery again; false if some
   * could not be (they are remembered as unrouted again, for the retry).
   */
  async #forward(userIds: number[]): Promise<boolean> {
    if (userIds.length === 0 || this.#stopped) return true;
    const { presence, delivery, messages } = this.#deps;
    let located: Map<number, string>;
    try {
      located = await presence.locate(userIds);
    } catch (error) {
      delivery.rememberUnrouted(userIds);
      this.#backendError(error);
      return false;
    }
    let allWent = true;
    for (const [userId, node] of located) {
      if (node === presence.nodeId || this.#stopped) continue;
      try {
        const pending = (await messages.pending(userId)).map(pushOf);
        for (let start = 0; start < pending.length; start += BACKLOG_BATCH) {
          const batch = pending.slice(start, start + BACKLOG_BATCH);
          await Promise.all(batch.map((push) => delivery.deliver([userId], push)));
          this.#resent += batch.length;
        }
      } catch (error) {
        delivery.rememberUnrouted([userId]);
        this.#backendError(error, userId);
        allWent = false;
      }
    }
    return allWent;
  }

  #backendError(error: unknown, userId?: number): void {
    this.#lastError = error;
    this.#deps.metrics?.backendError(error);
    this.#deps.log.debug("re-sending pending messages failed", { error, user: userId });
  }
}
