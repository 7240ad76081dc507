// The live roster: tells users online anywhere in the cluster when a friend comes or goes
// (PRESENCE) and when their friends or groups change (ROSTER). These updates are ephemeral: never
// stored, never pending, never acknowledged; one that finds nobody is dropped, because the next
// login shows the fresh roster. They go to a session here directly, or as one bus message per
// node (batched per burst by the bus), never through chat delivery and its bookkeeping.
//
// For each user logged in here the roster keeps their friends' presence (FriendStates), loaded
// at login and kept current by the updates themselves. So logging out tells the friends online
// without asking Redis where they are, and when another node dies this server alone finds which
// of its users had friends there: one batched lookup, then local writes (nodeGone).

import type { Bus, Presence, PresenceStamp, RosterEnvelope } from "../cluster/types.ts";
import type { Logger } from "../log.ts";
import type { LogThrottle } from "../log_throttle.ts";
import type { ServerMetrics } from "../metrics.ts";
import { type FriendView, MsgId, type RosterPush, type RosterUpdate } from "../protocol.ts";
import type { Session } from "../session.ts";
import { SharedFrame } from "../shared_frame.ts";
import type { UserSummary } from "../store/types.ts";
import { FriendStates } from "./friend_states.ts";
import { presencePush, readRosterUpdate } from "./updates.ts";

export interface RosterDeps {
  presence: Presence;
  bus: Bus;
  log: Logger;
  /** Where failures that repeat per update are logged, thinned out. */
  warnings: LogThrottle;
  metrics?: ServerMetrics;
}

/** Most updates kept for one user while they log in; beyond it, the oldest stay and later go. */
export const HELD_CAP = 1000;
/** Most users asked about in one presence lookup after a node died. */
const LOOKUP_BATCH = 1000;

/** An update on its way to a user, with where its subject is (PRESENCE, friend_added). */
interface Arrival {
  update: RosterUpdate;
  subject?: PresenceStamp;
  /** The update as every recipient here gets it: encoded once, however many take it. */
  shared: SharedFrame<RosterUpdate>;
}

/** A user logged in on this server. */
interface LocalUser {
  session: Session;
  name: string;
  /** This session's presence epoch, once taken. */
  epoch: number | null;
  friends: FriendStates;
  /** Until the friend list is loaded at login: what arrived meanwhile, replayed onto it. */
  early: Arrival[] | null;
  /** Until the login reply is written: ROSTER pushes waiting (presence is compared at release). */
  held: RosterPush[] | null;
}

export class Roster {
  readonly #deps: RosterDeps;
  readonly #users = new Map<number, LocalUser>();

  constructor(deps: RosterDeps) {
    this.#deps = deps;
    deps.presence.onNodeGone((nodeId) => void this.nodeGone(nodeId));
  }

  /** Starts following a user logging in on `session`; their updates wait for `release`. */
  begin(user: { id: number; name: string }, session: Session): void {
    this.#users.set(user.id, {
      session,
      name: user.name,
      epoch: null,
      friends: new FriendStates(),
      early: [],
      held: [],
    });
  }

  /** Takes the presence epoch of the session logging in. */
  async takeEpoch(userId: number, session: Session): Promise<void> {
    const epoch = await this.#deps.presence.nextEpoch(userId);
    const user = this.#local(userId, session);
    if (user) user.epoch = epoch;
  }

  /**
   * Completes a login: the user's friends (from the store) and where those online are, merged
   * with what arrived meanwhile, are the friends LOGIN_ACK lists; then every friend online is
   * told the user is. Call after takeEpoch.
   */
  async online(
    userId: number,
    session: Session,
    friends: readonly UserSummary[],
    located: ReadonlyMap<number, string>,
  ): Promise<FriendView[]> {
    const epochs = await this.#deps.presence.epochs(friends.map((friend) => friend.id));
    const user = this.#local(userId, session);
    const states = user?.friends ?? new FriendStates();
    for (const friend of friends) {
      states.set(
        friend.id,
        friend.name,
        located.get(friend.id) ?? null,
        epochs.get(friend.id) ?? 0,
      );
    }
    if (!user) return states.views();
    const early = user.early ?? [];
    user.early = null;
    for (const arrival of early) this.#apply(user, arrival, true);
    const views = states.views();
    this.#announce(userId, user, "online");
    return views;
  }

  /** The login reply is written: sends what changed meanwhile. */
  release(userId: number, session: Session): void {
    const user = this.#local(userId, session);
    if (!user?.held) return;
    const held = user.held;
    user.held = null;
    for (const friendId of user.friends.ids()) this.#show(user, friendId);
    for (const push of held) session.send(push);
  }

  /** The user's session ended: tells their friends online, and forgets them. Never throws. */
  offline(userId: number, session: Session): void {
    const user = this.#local(userId, session);
    if (!user) return;
    this.#users.delete(userId);
    this.#announce(userId, user, "offline");
  }

  /** The user added `friend` (in `state` on `node`, session `epoch`), as the ACK says. */
  friendAdded(userId: number, friend: UserSummary, node: string | null, epoch: number): void {
    this.#users.get(userId)?.friends.set(friend.id, friend.name, node, epoch);
  }

  friendRemoved(userId: number, friendId: number): void {
    this.#users.get(userId)?.friends.delete(friendId);
  }

  /** Where the session of a user logged in here is, for updates about them. */
  stampOf(userId: number): PresenceStamp {
    return { node: this.#deps.presence.nodeId, epoch: this.#users.get(userId)?.epoch ?? 0 };
  }

  /**
   * Sends an update to users at known locations: to sessions here directly, to every other node
   * in one bus message. Never throws: what cannot be sent is dropped (and logged).
   */
  send(
    recipients: ReadonlyMap<number, string>,
    update: RosterUpdate,
    subject?: PresenceStamp,
  ): void {
    const byNode = new Map<string, number[]>();
    const shared = new SharedFrame(update);
    for (const [userId, node] of recipients) {
      if (node === this.#deps.presence.nodeId) this.#take(userId, { update, subject, shared });
      else byNode.set(node, [...byNode.get(node) ?? [], userId]);
    }
    for (const [node, to] of byNode) {
      const envelope: RosterEnvelope = { to, event: update, sentAt: Date.now() };
      if (subject) envelope.subject = subject;
      this.#deps.bus.publish(node, envelope).catch((error) => {
        this.#deps.metrics?.backendError(error);
        this.#deps.warnings.warn("could not publish a roster update; it is dropped", {
          error,
          node,
        });
      });
    }
  }

  /** Handles a roster update another server published to this one. */
  receive(envelope: RosterEnvelope): void {
    const update = readRosterUpdate(envelope.event);
    if (!update) {
      this.#deps.log.warn("ignored a malformed roster update", { msgid: envelope.event.msgid });
      return;
    }
    const arrival = { update, subject: envelope.subject, shared: new SharedFrame(update) };
    for (const userId of envelope.to) this.#take(userId, arrival);
  }

  /**
   * A life of node `nodeId` ended: each user here whose friend was online there and is not
   * online anywhere now is told that friend is offline. One presence lookup (per 1000 friends),
   * whatever the number of users involved; nothing is published.
   */
  async nodeGone(nodeId: string): Promise<void> {
    const known = new Map<number, { userId: number; epoch: number }[]>();
    for (const [userId, user] of this.#users) {
      for (const { id, epoch } of user.friends.onNode(nodeId)) {
        known.set(id, [...known.get(id) ?? [], { userId, epoch }]);
      }
    }
    const friendIds = [...known.keys()];
    for (let start = 0; start < friendIds.length; start += LOOKUP_BATCH) {
      const batch = friendIds.slice(start, start + LOOKUP_BATCH);
      let located: Map<number, string>;
      try {
        located = await this.#deps.presence.locate(batch);
      } catch (error) {
        this.#deps.metrics?.backendError(error);
        this.#deps.log.warn("could not look up the friends of a node gone", {
          error,
          node: nodeId,
        });
        return;
      }
      for (const friendId of batch) {
        if (located.get(friendId) === nodeId) continue;
        for (const { userId, epoch } of known.get(friendId)!) {
          const user = this.#users.get(userId);
          if (user?.friends.lapse(friendId, nodeId, epoch)) this.#show(user, friendId);
        }
      }
    }
    if (friendIds.length > 0) {
      this.#deps.log.info("friends on a node gone marked offline", {
        node: nodeId,
        friends: friendIds.length,
      });
    }
  }

  #local(userId: number, session: Session): LocalUser | undefined {
    const user = this.#users.get(userId);
    return user?.session === session ? user : undefined;
  }

  /** Tells the user's friends online that the user is now in `state`. */
  #announce(userId: number, user: LocalUser, state: "online" | "offline"): void {
    if (user.epoch === null) return;
    const stamp = { node: this.#deps.presence.nodeId, epoch: user.epoch };
    this.send(user.friends.online(), presencePush(userId, user.name, state), stamp);
  }

  #take(userId: number, arrival: Arrival): void {
    const user = this.#users.get(userId);
    if (!user) return;
    if (user.early) {
      if (user.early.length < HELD_CAP) user.early.push(arrival);
      return;
    }
    this.#apply(user, arrival, false);
  }

  /** Applies an update to the user's friends and shows it; `replay`: before LOGIN_ACK is built. */
  #apply(user: LocalUser, { update, subject, shared }: Arrival, replay: boolean): void {
    if (update.msgid === MsgId.PRESENCE) {
      if (subject && user.friends.apply(update.id, update.state, subject)) {
        this.#show(user, update.id, shared);
      }
      return;
    }
    switch (update.event) {
      case "friend_added": {
        const { id, name } = update.friend;
        user.friends.set(id, name, subject?.node ?? null, subject?.epoch ?? 0);
        if (replay) return; // LOGIN_ACK will list them
        break;
      }
      case "friend_removed":
        user.friends.delete(update.id);
        if (replay) return;
        break;
    }
    if (!user.held) user.session.sendShared(shared);
    else if (user.held.length < HELD_CAP) user.held.push(update);
  }

  /**
   * Sends the friend's presence if it changed since the client was last shown it: `event`, the
   * PRESENCE push that caused it, when it says just that.
   */
  #show(user: LocalUser, friendId: number, event?: SharedFrame<RosterUpdate>): void {
    if (user.held) return;
    const state = user.friends.takeChange(friendId);
    if (state === undefined) return;
    const name = user.friends.get(friendId)!.name;
    const said = event?.frame;
    if (said?.msgid === MsgId.PRESENCE && said.state === state && said.name === name) {
      user.session.sendShared(event!);
    } else {
      user.session.send(presencePush(friendId, name, state));
    }
  }
}
