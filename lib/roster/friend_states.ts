// What this server knows of the friends of one user logged in here: whether each is online, on
// which node, in which session (presence epoch), and what the user's client was last shown.
// Presence events about one friend come from different servers and may arrive out of order; the
// epoch (a number that grows with each login of that friend, see Presence.nextEpoch) decides:
// an event about an older session than the one known is stale, and of one session, "offline"
// follows "online". So the last state shown is always the true one. Bounded by the friend list.

import type { PresenceStamp } from "../cluster/types.ts";
import type { FriendView, PresenceState } from "../protocol.ts";

/** One friend as known here. */
export interface FriendState {
  name: string;
  /** The node they are online on, or null when offline. */
  node: string | null;
  /** The epoch of the session `node` is about (0: none known). */
  epoch: number;
  /** The state the client was last shown. */
  shown: PresenceState;
}

export class FriendStates {
  readonly #friends = new Map<number, FriendState>();

  get size(): number {
    return this.#friends.size;
  }

  get(friendId: number): Readonly<FriendState> | undefined {
    return this.#friends.get(friendId);
  }

  /** Adds (or replaces) a friend, as shown to the client in the same breath. */
  set(friendId: number, name: string, node: string | null, epoch: number): void {
    this.#friends.set(friendId, { name, node, epoch, shown: stateOf(node) });
  }

  delete(friendId: number): boolean {
    return this.#friends.delete(friendId);
  }

  /**
   * Applies a presence event about a friend: `state` in the session `stamp`. Returns false when
   * it is about someone who is not a friend, or stale.
   */
  apply(friendId: number, state: PresenceState, stamp: PresenceStamp): boolean {
    const friend = this.#friends.get(friendId);
    if (!friend || stamp.epoch < friend.epoch) return false;
    if (stamp.epoch === friend.epoch) {
      // Of one session, online comes first: an "online" after its "offline" is stale.
      if (state === "online" && friend.node === null) return false;
    }
    friend.epoch = stamp.epoch;
    friend.node = state === "online" ? stamp.node : null;
    return true;
  }

  /** Marks a friend offline, if they are still known online on `node` in session `epoch`. */
  lapse(friendId: number, node: string, epoch: number): boolean {
    const friend = this.#friends.get(friendId);
    if (!friend || friend.node !== node || friend.epoch !== epoch) return false;
    friend.node = null;
    return true;
  }

  /**
   * The friend's state when it differs from what the client was last shown, recording it as
   * shown now; undefined when there is nothing new to show.
   */
  takeChange(friendId: number): PresenceState | undefined {
    const friend = this.#friends.get(friendId);
    if (!friend) return undefined;
    const state = stateOf(friend.node);
    if (state === friend.shown) return undefined;
    friend.shown = state;
    return state;
  }

  /** The friends online on `node`, with the epoch each is known in. */
  onNode(node: string): { id: number; epoch: number }[] {
    const found: { id: number; epoch: number }[] = [];
    for (const [id, friend] of this.#friends) {
      if (friend.node === node) found.push({ id, epoch: friend.epoch });
    }
    return found;
  }

  /** Every friend online anywhere, with their node. */
  online(): Map<number, string> {
    const found = new Map<number, string>();
    for (const [id, friend] of this.#friends) if (friend.node !== null) found.set(id, friend.node);
    return found;
  }

  ids(): number[] {
    return [...this.#friends.keys()];
  }

  /** The friends as LOGIN_ACK lists them, ordered by id, each now counted as shown. */
  views(): FriendView[] {
    return [...this.#friends].sort(([a], [b]) => a - b).map(([id, friend]) => {
      friend.shown = stateOf(friend.node);
      return { id, name: friend.name, state: friend.shown };
    });
  }
}

export function stateOf(node: string | null): PresenceState {
  return node === null ? "offline" : "online";
}
