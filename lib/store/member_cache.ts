// Group member lists kept between messages, so a group message on the embedded store does not
// read every member row again. Memberships only grow (there is no leave), but another process may
// share the SQLite file: the whole cache is dropped whenever another connection has committed
// anything since the last look (`PRAGMA data_version`, about 8 us, so looked at once per
// event-loop turn: a commit elsewhere is seen from the next turn on), and this connection's own
// changes forget the group they touch at once.

import { setImmediate } from "node:timers";

export class MemberCache {
  readonly #dataVersion: () => number;
  readonly #lists = new Map<number, readonly number[]>();
  #seenVersion = -1;
  #lookedThisTurn = false;

  /** `dataVersion` reads `PRAGMA data_version` on the store's connection. */
  constructor(dataVersion: () => number) {
    this.#dataVersion = dataVersion;
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
    if (members === undefined) {
      members = Object.freeze(load());
      // A missing group is not cached: its id may be created next.
      if (members.length > 0) this.#lists.set(groupId, members);
    }
    return members;
  }

  /** Called after this connection changed the members of `groupId`. */
  forget(groupId: number): void {
    this.#lists.delete(groupId);
  }
}
