// Cluster presence on Redis. `user:<id>` names the node a user is on, `node:{<node>}:users` lists
// the users a node holds and `node:{<node>}:alive` exists while the node's heartbeat refreshes it.
// A user is online iff their user key names a node whose alive key exists, so a killed node's
// users lapse within one liveness TTL with no per-user refresh. Every script touches one user's
// key or one node's keys (one hash slot), passed in KEYS, so the same code runs on a single Redis
// and on a Redis Cluster (lib/cluster/redis_router.ts); what spans a user and a node (a claim, a
// release) is a short sequence whose every prefix is safe, with a compare-and-set on the user key.
//
// Lost writes are noticed in O(1) per heartbeat rather than by checking every user: the beat
// refreshes the alive key only if it still exists (SET XX), so a Redis that restarted empty, was
// flushed or failed over without it says so; and the router reports every reconnect and every
// change of master, after which the last writes to that shard may be gone. Either way the node
// repairs what it knows: marks its users again where their key is missing and releases again
// whom it released in the last 10 s. Presence epochs live in redis_epochs.ts, and the watch for
// other nodes' ends in redis_node_watch.ts.

import type { NodeGoneListener, Presence, RecoveryListener } from "./types.ts";
import { messageOf, type RedisClient, type Warn } from "./redis_client.ts";
import type { RedisKeys } from "./redis_keys.ts";
import { nextEpoch, readEpochs } from "./redis_epochs.ts";
import { NODE_WATCH_MS, RedisNodeWatch } from "./redis_node_watch.ts";
import { getMany, inWaves, notifyAll, type RedisRouter } from "./redis_router.ts";
import {
  BEAT,
  DROP_IF_MINE,
  FORGET_NODE,
  TAKE_IF_FREE,
  TAKE_OVER,
} from "./redis_presence_scripts.ts";

/** Users handled per wave when a node walks all of its users (repair, forget). */
const WAVE = 1000;
/** How long a node seen alive is trusted to be, well inside the liveness TTL. */
const ALIVE_CACHE_MS = 500;
/** Releases repeated by a repair: those of the last RECENT_MS, at most RECENT_MAX of them. */
const RECENT_MS = 10_000;
const RECENT_MAX = 10_000;
/** Claim attempts when others keep changing the user key in between. */
const CLAIM_ATTEMPTS = 3;

export interface RedisPresenceOptions {
  router: RedisRouter;
  keys: RedisKeys;
  nodeId: string;
  livenessTtlMs: number;
  /** How often other nodes are checked for having gone; NODE_WATCH_MS by default. */
  nodeWatchMs?: number;
  warn: Warn;
  /** Called once when the presence no longer needs the router. */
  releaseRouter: () => Promise<void>;
  /** The clock (ms since the epoch); default Date.now. */
  now?: () => number;
}

export class RedisPresence implements Presence {
  readonly nodeId: string;
  readonly #options: RedisPresenceOptions;
  readonly #now: () => number;
  readonly #heartbeat: ReturnType<typeof setInterval>;
  #closed = false;
  /** Users whose release failed (Redis away); retried by the heartbeat and before a claim. */
  readonly #unreleased = new Set<number>();
  /** Users claimed here and not released since; a repair marks them online again. */
  readonly #held = new Set<number>();
  /** Users released here lately, with when (oldest first); a repair releases them again. */
  readonly #recentlyReleased = new Map<number, number>();
  readonly #recoveryListeners: RecoveryListener[] = [];
  /** Nodes seen alive, until when that is trusted without asking Redis again. */
  readonly #seenAlive = new Map<string, number>();
  /** Per user, the end of the claim or release under way here (only while one is). */
  readonly #inFlight = new Map<number, Promise<void>>();
  #repairing: Promise<void> | null = null;
  /**
   * The slots a repair is due for (asked for while one ran, or the last one failed): null for
   * every slot, undefined when none is due.
   */
  #dueSlots: Set<number> | null | undefined;
  readonly #nodeWatch: RedisNodeWatch;

  /** Marks the node alive, then keeps it alive with a heartbeat every third of the TTL. */
  static async start(options: RedisPresenceOptions): Promise<RedisPresence> {
    const { router, keys, nodeId, livenessTtlMs } = options;
    await router.run(
      "heartbeat",
      keys.alive(nodeId),
      (client) =>
        client.eval(BEAT, { keys: [keys.alive(nodeId)], arguments: [String(livenessTtlMs)] }),
    );
    return new RedisPresence(options);
  }

  private constructor(options: RedisPresenceOptions) {
    this.nodeId = options.nodeId;
    this.#options = options;
    this.#now = options.now ?? Date.now;
    const period = Math.max(1, Math.floor(options.livenessTtlMs / 3));
    this.#heartbeat = setInterval(() => this.#beat(), period);
    options.router.onRestored((slots) => this.#repairSoon(slots));
    this.#nodeWatch = new RedisNodeWatch({
      router: options.router,
      keys: options.keys,
      nodeId: options.nodeId,
      periodMs: options.nodeWatchMs ?? NODE_WATCH_MS,
      warn: options.warn,
      now: this.#now,
    });
  }

  claim(userId: number): Promise<boolean> {
    return this.#oneAtATime(userId, async () => {
      try {
        return await this.#claim(userId);
      } catch (error) {
        // The take may have happened with its answer lost: undone by the heartbeat's retry.
        if (!this.#held.has(userId)) this.#unreleased.add(userId);
        throw error;
      }
    });
  }

  async #claim(userId: number): Promise<boolean> {
    if (this.#unreleased.has(userId)) await this.#releaseNow(userId);
    const { keys, nodeId } = this.#options;
    // Listed first, so a node that dies right after the take still finds the user at restart.
    await this.#run(
      "claim",
      keys.users(nodeId),
      (client) => client.sAdd(keys.users(nodeId), String(userId)),
    );
    const userKey = keys.user(userId);
    for (let attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++) {
      const taken = await this.#eval("claim", TAKE_IF_FREE, userKey, [nodeId]);
      if (taken === 1) return this.#claimed(userId);
      const holder = String(taken);
      if (await this.#isAlive(holder)) break;
      if (await this.#eval("claim", TAKE_OVER, userKey, [holder, nodeId]) === 1) {
        return this.#claimed(userId);
      }
    }
    if (!this.#held.has(userId)) {
      await this.#run(
        "claim",
        keys.users(nodeId),
        (client) => client.sRem(keys.users(nodeId), String(userId)),
      );
    }
    return false;
  }

  #claimed(userId: number): true {
    this.#held.add(userId);
    this.#recentlyReleased.delete(userId);
    return true;
  }

  /** Releases the user; if Redis is away, keeps retrying in the background (and throws). */
  release(userId: number): Promise<void> {
    this.#held.delete(userId);
    this.#rememberRelease(userId);
    return this.#oneAtATime(userId, async () => {
      try {
        await this.#releaseNow(userId);
      } catch (error) {
        this.#unreleased.add(userId);
        throw error;
      }
    });
  }

  /**
   * Runs the claims and releases of one user on this node one at a time: each is a sequence of
   * commands on two slots (the user's key, this node's set), and interleaving a claim with a
   * release could leave the key naming this node with the user missing from its set, where a
   * restart of the node would not find them.
   */
  #oneAtATime<T>(userId: number, task: () => Promise<T>): Promise<T> {
    const before = this.#inFlight.get(userId) ?? Promise.resolve();
    const result = before.then(task);
    const settled = result.then(() => {}, () => {});
    this.#inFlight.set(userId, settled);
    void settled.then(() => {
      if (this.#inFlight.get(userId) === settled) this.#inFlight.delete(userId);
    });
    return result;
  }

  async #releaseNow(userId: number): Promise<void> {
    const { keys, nodeId } = this.#options;
    await this.#eval("release", DROP_IF_MINE, keys.user(userId), [nodeId]);
    await this.#run(
      "release",
      keys.users(nodeId),
      (client) => client.sRem(keys.users(nodeId), String(userId)),
    );
    this.#unreleased.delete(userId);
  }

  async locate(userIds: readonly number[]): Promise<Map<number, string>> {
    const found = new Map<number, string>();
    if (userIds.length === 0) return found;
    const { router, keys } = this.#options;
    const holders = await getMany(router, "locate", userIds.map((id) => keys.user(id)));
    const named = [...new Set(holders.filter((node) => node !== null))];
    const live = await this.#liveAmong(named);
    userIds.forEach((userId, i) => {
      const node = holders[i];
      if (node !== null && live.has(node)) found.set(userId, node);
    });
    return found;
  }

  /**
   * The nodes among `nodes` whose alive key exists. A node seen alive is taken as alive for
   * ALIVE_CACHE_MS without asking again (a node that just died looks alive a little longer, as
   * it does until its key expires anyway; its channel has no subscriber, so what is published
   * to it stays pending). A node seen dead is always asked again.
   */
  async #liveAmong(nodes: string[]): Promise<Set<string>> {
    const now = this.#now();
    const live = new Set(nodes.filter((node) => (this.#seenAlive.get(node) ?? 0) > now));
    const unknown = nodes.filter((node) => !live.has(node));
    if (unknown.length === 0) return live;
    const { router, keys } = this.#options;
    const alive = await getMany(router, "locate", unknown.map((node) => keys.alive(node)));
    unknown.forEach((node, i) => {
      if (alive[i] === null) return void this.#seenAlive.delete(node);
      live.add(node);
      this.#seenAlive.set(node, now + ALIVE_CACHE_MS);
    });
    return live;
  }

  async #isAlive(nodeId: string): Promise<boolean> {
    const aliveKey = this.#options.keys.alive(nodeId);
    return await this.#run("claim", aliveKey, (client) => client.exists(aliveKey)) === 1;
  }

  nextEpoch(userId: number): Promise<number> {
    return nextEpoch(this.#options.router, this.#options.keys, userId, this.#now());
  }

  epochs(userIds: readonly number[]): Promise<Map<number, number>> {
    return readEpochs(this.#options.router, this.#options.keys, userIds);
  }

  onRecovered(listener: RecoveryListener): void {
    this.#recoveryListeners.push(listener);
  }

  onNodeGone(listener: NodeGoneListener): void {
    this.#nodeWatch.onGone(listener);
  }

  async clearStale(): Promise<void> {
    await this.#forget(this.#options.livenessTtlMs);
    await this.#nodeWatch.announce();
  }

  ping(): Promise<boolean> {
    return this.#options.router.ping();
  }

  /** Stops the heartbeat and marks this node and its users offline (best effort). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#heartbeat);
    this.#nodeWatch.stop();
    this.#recoveryListeners.length = 0;
    await this.#repairing;
    try {
      await this.#forget(0);
      await this.#nodeWatch.close();
    } catch (error) {
      this.#options.warn(`${messageOf(error)}; its users lapse with the liveness TTL`);
    }
    await this.#options.releaseRouter();
  }

  #beat(): void {
    // An outage is reported by the connection itself; the next beat retries.
    this.#refreshAlive().then((present) => {
      if (!present) this.#repairSoon(null);
      else if (this.#dueSlots !== undefined && !this.#repairing) this.#startRepair();
    }, () => {});
    for (const userId of this.#unreleased) {
      this.#oneAtATime(userId, () => this.#releaseNow(userId)).catch(() => {});
    }
  }

  /** Refreshes the alive key; false when it had vanished (Redis lost this node's keys). */
  async #refreshAlive(): Promise<boolean> {
    const { keys, nodeId, livenessTtlMs } = this.#options;
    return await this.#eval("heartbeat", BEAT, keys.alive(nodeId), [String(livenessTtlMs)]) === 1;
  }

  /** Repairs `slots` (null: all) now, or once more after the repair under way. */
  #repairSoon(slots: ReadonlySet<number> | null): void {
    if (this.#closed) return;
    this.#markDue(slots);
    if (!this.#repairing) this.#startRepair();
  }

  #markDue(slots: ReadonlySet<number> | null): void {
    const due = this.#dueSlots;
    this.#dueSlots = slots === null || due === null ? null : new Set([...due ?? [], ...slots]);
  }

  #startRepair(): void {
    const slots = this.#dueSlots;
    if (slots === undefined || this.#closed) return;
    this.#dueSlots = undefined;
    let failed = false;
    this.#repairing = this.#repair(slots).catch((error) => {
      failed = true;
      this.#markDue(slots); // the next heartbeat starts it again
      this.#options.warn(
        `presence repair failed, retrying at the next heartbeat: ${messageOf(error)}`,
      );
    }).finally(() => {
      this.#repairing = null;
      if (!failed) this.#startRepair();
    });
  }

  /**
   * After Redis may have lost writes to `slots` (null: to any): marks the alive key, marks every
   * user held here whose key is in those slots and gone (never taking over a user another node
   * holds now), lists the users held here in the node's set again, and releases again whom this
   * node released lately there. After the failover of one shard of three, a third of the users.
   */
  async #repair(slots: ReadonlySet<number> | null): Promise<void> {
    const { keys, nodeId, router } = this.#options;
    const concerned = (userId: number) =>
      slots === null || slots.has(router.slotOf(keys.user(userId)));
    await this.#refreshAlive();
    let marked = 0;
    await inWaves([...this.#held].filter(concerned), WAVE, async (userId) => {
      // Checked right before the call, so a release issued meanwhile is not undone.
      if (!this.#held.has(userId)) return;
      const set = await this.#run(
        "re-marking users",
        keys.user(userId),
        (client) => client.set(keys.user(userId), nodeId, { condition: "NX" }),
      );
      if (set !== null) marked++;
    });
    const held = [...this.#held].map(String);
    for (let start = 0; start < held.length; start += WAVE) {
      const members = held.slice(start, start + WAVE);
      await this.#run(
        "re-marking users",
        keys.users(nodeId),
        (client) => client.sAdd(keys.users(nodeId), members),
      );
    }
    this.#pruneReleases();
    const released = [...this.#recentlyReleased.keys()].filter((id) =>
      !this.#held.has(id) && concerned(id)
    );
    await inWaves(released, WAVE, (userId) =>
      this.#oneAtATime(userId, async () => {
        if (!this.#held.has(userId)) await this.#releaseNow(userId);
      }));
    if (marked > 0 && !this.#closed) {
      notifyAll(this.#recoveryListeners, this.#options.warn, "presence recovery listener");
    }
  }

  #rememberRelease(userId: number): void {
    this.#recentlyReleased.delete(userId);
    this.#recentlyReleased.set(userId, this.#now());
    this.#pruneReleases();
  }

  #pruneReleases(): void {
    const oldest = this.#now() - RECENT_MS;
    for (const [userId, at] of this.#recentlyReleased) {
      if (at >= oldest && this.#recentlyReleased.size <= RECENT_MAX) break;
      this.#recentlyReleased.delete(userId);
    }
  }

  /** Drops every user this node holds, then marks the node alive (TTL > 0) or gone (TTL 0). */
  async #forget(ttlMs: number): Promise<void> {
    const { keys, nodeId } = this.#options;
    const usersKey = keys.users(nodeId);
    const members = await this.#run(
      "clearing presence",
      usersKey,
      (client) => client.sMembers(usersKey),
    );
    await inWaves(
      members,
      WAVE,
      (id) => this.#eval("clearing presence", DROP_IF_MINE, keys.user(Number(id)), [nodeId]),
    );
    await this.#run("clearing presence", usersKey, (client) =>
      client.eval(FORGET_NODE, {
        keys: [usersKey, keys.alive(nodeId)],
        arguments: [String(ttlMs)],
      }));
  }

  /** Runs a script on one key's slot. */
  #eval(action: string, script: string, key: string, args: string[]) {
    return this.#run(
      action,
      key,
      (client) => client.eval(script, { keys: [key], arguments: args }),
    );
  }

  #run<T>(action: string, key: string, command: (client: RedisClient) => Promise<T>): Promise<T> {
    return this.#options.router.run(action, key, command);
  }
}
