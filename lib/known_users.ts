// Which user ids are known to exist, so a chat message to one does not read the user table
// every time. Users are never deleted, so a remembered id never goes stale. At most `capacity`
// ids are kept (100,000 by default); past that the one looked up least recently is forgotten
// and costs one read again.

/** Ids remembered, unless the server says otherwise. */
export const KNOWN_USERS_CAP = 100_000;

export class KnownUsers {
  readonly #capacity: number;
  /** Least recently used first. */
  readonly #ids = new Set<number>();

  constructor(capacity = KNOWN_USERS_CAP) {
    this.#capacity = capacity;
  }

  get size(): number {
    return this.#ids.size;
  }

  /** True if `userId` exists: remembered, or `find` says so (then remembered). */
  async exists(userId: number, find: (userId: number) => Promise<boolean>): Promise<boolean> {
    if (this.#ids.delete(userId)) {
      this.#ids.add(userId);
      return true;
    }
    if (!await find(userId)) return false;
    if (this.#ids.size >= this.#capacity) this.#ids.delete(this.#ids.values().next().value!);
    this.#ids.add(userId);
    return true;
  }
}
