// Notices when another node's life ends, so the survivors can tell their users that the friends
// it held went offline. Every node records the token of its current life in the hash `nodes`
// (node id -> life token) and checks, every period, every node of that hash: a node whose
// liveness key `alive:<node>` lapsed (killed, or shut down) or whose token changed (it started
// again, faster than its key could lapse) has lost the users of its earlier life, and so has one
// that took itself out of the hash (it shut down). Each check is
// one HGETALL, one GET per node and one HSET (this node's own entry, so an entry deleted by
// mistake comes back), issued together: its cost grows with the nodes, never with the users.

import { messageOf, type Warn } from "./redis_client.ts";
import type { RedisKeys } from "./redis_keys.ts";
import { getMany, notifyAll, type RedisRouter } from "./redis_router.ts";
import type { NodeGoneListener } from "./types.ts";

/** How often the nodes are checked by default, ms. With a 6 s liveness TTL: gone within 7 s. */
export const NODE_WATCH_MS = 1_000;
/** A node gone this long is dropped from the hash (every survivor has noticed by then), ms. */
const FORGET_GONE_AFTER_MS = 60_000;

export interface NodeWatchOptions {
  router: RedisRouter;
  keys: RedisKeys;
  nodeId: string;
  /** How often to check, ms. */
  periodMs: number;
  warn: Warn;
  /** The clock, ms. */
  now?: () => number;
}

/** What this node last saw of another. */
interface SeenNode {
  life: string;
  /** When it was first seen gone (ms), or null while it lives. */
  goneSince: number | null;
}

export class RedisNodeWatch {
  readonly #options: NodeWatchOptions;
  readonly #now: () => number;
  readonly #life = crypto.randomUUID();
  readonly #seen = new Map<string, SeenNode>();
  readonly #listeners: NodeGoneListener[] = [];
  readonly #timer: ReturnType<typeof setInterval>;
  #announced = false;
  #checking = false;
  #closed = false;

  constructor(options: NodeWatchOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#timer = setInterval(() => void this.check(), options.periodMs);
  }

  onGone(listener: NodeGoneListener): void {
    this.#listeners.push(listener);
  }

  /** Records this node's new life; call it after the earlier life's users were cleared. */
  async announce(): Promise<void> {
    await this.#record();
    this.#announced = true;
  }

  /** One check of every node (the timer runs it; tests may too). Never throws. */
  async check(): Promise<void> {
    if (this.#checking) return;
    this.#checking = true;
    try {
      await this.#check();
    } catch (error) {
      // An outage is reported by the connection itself (and its commands fail fast until it
      // is back); the next check retries. Anything else is worth a line.
      if (!this.#closed && await this.#options.router.ping()) {
        this.#options.warn(`checking the cluster's nodes failed: ${messageOf(error)}`);
      }
    } finally {
      this.#checking = false;
    }
  }

  /** Stops checking (and telling listeners). */
  stop(): void {
    this.#closed = true;
    clearInterval(this.#timer);
    this.#listeners.length = 0;
  }

  /** Stops, and takes this node out of the hash (the others then report it gone). */
  async close(): Promise<void> {
    this.stop();
    if (!this.#announced) return;
    const { router, keys, nodeId } = this.#options;
    await router.run(
      "leaving the cluster",
      keys.nodes(),
      (client) => client.hDel(keys.nodes(), nodeId),
    );
  }

  async #check(): Promise<void> {
    const { router, keys, nodeId } = this.#options;
    const lives = await router.run(
      "checking nodes",
      keys.nodes(),
      (client) => client.hGetAll(keys.nodes()),
    );
    const others = Object.keys(lives).filter((node) => node !== nodeId);
    const [alive] = await Promise.all([
      getMany(router, "checking nodes", others.map((node) => keys.alive(node))),
      this.#announced ? this.#record() : null,
    ]);
    const now = this.#now();
    const forget: string[] = [];
    others.forEach((node, i) => {
      const life = lives[node];
      const seen = this.#seen.get(node);
      if (alive[i] !== null) {
        if (seen && seen.life !== life && seen.goneSince === null) this.#gone(node);
        this.#seen.set(node, { life, goneSince: null });
      } else if (!seen || seen.goneSince === null) {
        this.#seen.set(node, { life, goneSince: now });
        this.#gone(node);
      } else if (now - seen.goneSince > FORGET_GONE_AFTER_MS) {
        this.#seen.delete(node);
        forget.push(node);
      }
    });
    for (const [node, seen] of this.#seen) {
      if (node in lives) continue;
      // A node that shut down takes itself out of the hash.
      this.#seen.delete(node);
      if (seen.goneSince === null) this.#gone(node);
    }
    if (forget.length > 0) {
      await router.run(
        "checking nodes",
        keys.nodes(),
        (client) => client.hDel(keys.nodes(), forget),
      );
    }
  }

  /** Writes this node's life into the hash. */
  async #record(): Promise<void> {
    const { router, keys, nodeId } = this.#options;
    await router.run(
      "announcing this node",
      keys.nodes(),
      (client) => client.hSet(keys.nodes(), nodeId, this.#life),
    );
  }

  #gone(node: string): void {
    const listeners = this.#listeners.map((listener) => () => listener(node));
    notifyAll(listeners, this.#options.warn, "node-gone listener");
  }
}
