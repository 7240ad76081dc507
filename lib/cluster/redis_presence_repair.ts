// The repair of a node's presence after Redis may have lost writes: a Redis that restarted empty
// or was flushed (the heartbeat found the alive key gone), a reconnect, or the failover of a
// shard's master (the router reports the slots concerned). The node marks again the users it
// holds whose user key is gone (never taking over a user another node holds now), lists them in
// its set again, and releases again whom it released in the last 10 s, in those slots only.
// Repairs run one at a time; one asked for meanwhile runs after it, covering every slot asked
// for; a failed one is due again and retried at the next heartbeat.

import type { RecoveryListener } from "./types.ts";
import { messageOf, type Warn } from "./redis_client.ts";
import type { RedisKeys } from "./redis_keys.ts";
import { inWaves, notifyAll, type RedisRouter } from "./redis_router.ts";

/** Users handled per wave. */
const WAVE = 1000;
/** Releases repeated by a repair: those of the last RECENT_MS, at most RECENT_MAX of them. */
const RECENT_MS = 10_000;
const RECENT_MAX = 10_000;

export interface PresenceRepairOptions {
  router: RedisRouter;
  keys: RedisKeys;
  nodeId: string;
  warn: Warn;
  /** The clock (ms since the epoch). */
  now: () => number;
  /** Users claimed here and not released since: the ones a repair marks online again. */
  held: ReadonlySet<number>;
  /** Refreshes this node's alive key. */
  refreshAlive: () => Promise<unknown>;
  /** Releases a user again unless held by then, in turn with the user's claims and releases. */
  releaseAgain: (userId: number) => Promise<void>;
}

export class PresenceRepair {
  readonly #options: PresenceRepairOptions;
  /** Users released here lately, with when (oldest first); a repair releases them again. */
  readonly #recentlyReleased = new Map<number, number>();
  readonly #listeners: RecoveryListener[] = [];
  #running: Promise<void> | null = null;
  /**
   * The slots a repair is due for (asked for while one ran, or the last one failed): null for
   * every slot, undefined when none is due.
   */
  #dueSlots: Set<number> | null | undefined;
  #closed = false;

  constructor(options: PresenceRepairOptions) {
    this.#options = options;
  }

  /** `listener` is called after a repair that marked users online again. */
  onRepaired(listener: RecoveryListener): void {
    this.#listeners.push(listener);
  }

  /** A user was claimed here: no repair releases them again. */
  claimed(userId: number): void {
    this.#recentlyReleased.delete(userId);
  }

  /** A user was released here: a repair within RECENT_MS releases them again. */
  released(userId: number): void {
    this.#recentlyReleased.delete(userId);
    this.#recentlyReleased.set(userId, this.#options.now());
    this.#pruneReleases();
  }

  /** Repairs `slots` (null: all) now, or once more after the repair under way. */
  soon(slots: ReadonlySet<number> | null): void {
    if (this.#closed) return;
    this.#markDue(slots);
    if (!this.#running) this.#start();
  }

  /** Starts the repair still due after a failure, unless one is running (the heartbeat's). */
  retryIfDue(): void {
    if (!this.#running) this.#start();
  }

  /** Starts no more repairs and forgets the listeners; resolves when the one under way ends. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#listeners.length = 0;
    await this.#running;
  }

  #markDue(slots: ReadonlySet<number> | null): void {
    const due = this.#dueSlots;
    this.#dueSlots = slots === null || due === null ? null : new Set([...due ?? [], ...slots]);
  }

  #start(): void {
    const slots = this.#dueSlots;
    if (slots === undefined || this.#closed) return;
    this.#dueSlots = undefined;
    let failed = false;
    this.#running = this.#repair(slots).catch((error) => {
      failed = true;
      this.#markDue(slots); // the next heartbeat starts it again
      this.#options.warn(
        `presence repair failed, retrying at the next heartbeat: ${messageOf(error)}`,
      );
    }).finally(() => {
      this.#running = null;
      if (!failed) this.#start();
    });
  }

  /**
   * After Redis may have lost writes to `slots` (null: to any): marks the alive key, marks every
   * user held here whose key is in those slots and gone (never taking over a user another node
   * holds now), lists the users held here in the node's set again, and releases again whom this
   * node released lately there. After the failover of one shard of three, a third of the users.
   */
  async #repair(slots: ReadonlySet<number> | null): Promise<void> {
    const { keys, nodeId, router, held } = this.#options;
    const concerned = (userId: number) =>
      slots === null || slots.has(router.slotOf(keys.user(userId)));
    await this.#options.refreshAlive();
    let marked = 0;
    await inWaves([...held].filter(concerned), WAVE, async (userId) => {
      // Checked right before the call, so a release issued meanwhile is not undone.
      if (!held.has(userId)) return;
      const set = await router.run(
        "re-marking users",
        keys.user(userId),
        (client) => client.set(keys.user(userId), nodeId, { condition: "NX" }),
      );
      if (set !== null) marked++;
    });
    const members = [...held].map(String);
    for (let start = 0; start < members.length; start += WAVE) {
      const wave = members.slice(start, start + WAVE);
      await router.run(
        "re-marking users",
        keys.users(nodeId),
        (client) => client.sAdd(keys.users(nodeId), wave),
      );
    }
    this.#pruneReleases();
    const released = [...this.#recentlyReleased.keys()].filter((id) =>
      !held.has(id) && concerned(id)
    );
    await inWaves(released, WAVE, (userId) => this.#options.releaseAgain(userId));
    if (marked > 0 && !this.#closed) {
      notifyAll(this.#listeners, this.#options.warn, "presence recovery listener");
    }
  }

  #pruneReleases(): void {
    const oldest = this.#options.now() - RECENT_MS;
    for (const [userId, at] of this.#recentlyReleased) {
      if (at >= oldest && this.#recentlyReleased.size <= RECENT_MAX) break;
      this.#recentlyReleased.delete(userId);
    }
  }
}
