// Group member lists kept between messages, so a group message on the embedded store does not
// read every member row again. Another process may share the SQLite file: the whole cache is
// dropped whenever another connection has committed anything since the last look (`PRAGMA
// data_version`, about 8 us, so looked at once per event-loop turn: a commit elsewhere is seen
// from the next turn on), and this connection's own joins and leaves forget their group at once.
// At most `capacity` groups are kept (10,000 by default); past that the one used least recently
// is forgotten.

import { setImmediate } from "node:timers";

/** Groups whose member lists are kept, unless the store says otherwise. */
export const MEMBER_CACHE_GROUPS = 10_000;

export class MemberCache {
  readonly #dataVersion: () => number;
  readonly #capacity: number;
  /** By group id, least recently used first. */
  readonly #lists = new Map<number, readonly number[]>();
  #seenVersion = -1;
  #lookedThisTurn = false;

  /** `dataVersion` reads `PRAGMA data_version` on the store's connection. */
  constructor(dataVersion: () => number, capacity = MEMBER_CACHE_GROUPS) {
    this.#dataVersion = dataVersion;
    this.#capacity = capacity;
  }

  /** Groups whose member lists are kept now. */
  get size(): number {
    return this.#lists.size;
  }

  /** The members of `groupId`, from the cache while it is current, else from `load`. */
  get(groupId: number, load: () => number[]): readonly number[] {
    if (!this.#lookedThisTurn) {
      this.#lookedThisTurn = true;
      setImmediate(() => this.#lookedThisTurn = false);
      const version = this.#dataVersion();
      if (version !== this.#seenVersion) {
        this.#lists.clear();
        this.#seenVersion = version;
      }
    }
    let members = this.#lists.get(groupId);
    if (members !== undefined) {
      // Most recently used now: to the end of the order.
      this.#lists.delete(groupId);
      this.#lists.set(groupId, members);
      return members;
    }
    members = Object.freeze(load());
    // A missing group is not cached: its id may be created next.
    if (members.length === 0) return members;
    if (this.#lists.size >= this.#capacity) {
      this.#lists.delete(this.#lists.keys().next().value!);
    }
    this.#lists.set(groupId, members);
    return members;
  }

  /** Called after this connection changed the members of `groupId`. */
  forget(groupId: number): void {
    this.#lists.delete(groupId);
  }
}
