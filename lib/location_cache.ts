// A node's short memory of which other node holds a user, so that a busy conversation between
// users on two servers does not ask Redis where the recipient is for every message. Only direct
// delivery (lib/direct.ts) reads it, and a wrong answer costs it nothing but time: a push sent
// to a node that no longer holds the user is reported as not taken, made pending and routed
// the usual way (with a fresh presence lookup), and the entry is forgotten. Entries also lapse
// after a fixed time, so a user who moved is found where they are within that time anyway.

/** How long a location is believed without asking presence again. */
export const LOCATION_TTL_MS = 2_000;

/** Most users remembered; the oldest entry goes first. */
export const LOCATION_CACHE_MAX = 50_000;

export class LocationCache {
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #now: () => number;
  /** userId → node and when it was learnt; Map order is learning order, oldest first. */
  readonly #entries = new Map<number, { node: string; learntAt: number }>();

  constructor(
    ttlMs = LOCATION_TTL_MS,
    maxEntries = LOCATION_CACHE_MAX,
    now: () => number = () => performance.now(),
  ) {
    this.#ttlMs = ttlMs;
    this.#maxEntries = maxEntries;
    this.#now = now;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The node last learnt for the user, unless that was longer ago than the TTL. */
  get(userId: number): string | undefined {
    const entry = this.#entries.get(userId);
    if (entry === undefined) return undefined;
    if (this.#now() - entry.learntAt < this.#ttlMs) return entry.node;
    this.#entries.delete(userId);
    return undefined;
  }

  learn(userId: number, node: string): void {
    this.#entries.delete(userId);
    this.#entries.set(userId, { node, learntAt: this.#now() });
    if (this.#entries.size > this.#maxEntries) {
      this.#entries.delete(this.#entries.keys().next().value!);
    }
  }

  forget(userId: number): void {
    this.#entries.delete(userId);
  }
}
