// What this client knows about its user: the LOGIN_ACK snapshot of friends and groups, kept
// current by the roster updates the server pushes (PRESENCE, ROSTER) and by what the ACKs of this
// client's own changes carry.

import type { Frame, GroupMemberView, PresenceState, RosterUpdate } from "../protocol.ts";
import type { RequestCommand } from "./commands.ts";
import { readAddedFriend, readJoinedGroup } from "./replies.ts";

/** A friend; one added by an older server (whose ACK says nothing) has only an id. */
export interface KnownFriend {
  id: number;
  name?: string;
  state?: PresenceState;
}

/** A group; one joined on an older server (whose ACK says nothing) has only this user. */
export interface KnownGroup {
  id: number;
  groupname?: string;
  groupdesc?: string;
  users: GroupMemberView[];
}

export interface ClientView {
  id: number;
  name: string;
  /** The server node this client is connected to, when the server says. */
  node?: string;
  friends: KnownFriend[];
  groups: KnownGroup[];
}

function withFriend(view: ClientView, friend: KnownFriend): ClientView {
  const others = view.friends.filter((known) => known.id !== friend.id);
  return { ...view, friends: [...others, friend].sort((a, b) => a.id - b.id) };
}

function withGroup(view: ClientView, group: KnownGroup): ClientView {
  const others = view.groups.filter((known) => known.id !== group.id);
  return { ...view, groups: [...others, group].sort((a, b) => a.id - b.id) };
}

function ownGroup(
  view: ClientView,
  group: { id: number; groupname?: string; groupdesc?: string; role: "creator" | "normal" },
): ClientView {
  const { role, ...fields } = group;
  const self: GroupMemberView = { id: view.id, name: view.name, state: "online", role };
  return withGroup(view, { ...fields, users: [self] });
}

/** Applies `change` to one group's member list, if the group is known. */
function mapGroup(
  view: ClientView,
  groupid: number,
  change: (users: GroupMemberView[]) => GroupMemberView[],
): ClientView {
  return {
    ...view,
    groups: view.groups.map((group) =>
      group.id === groupid ? { ...group, users: change(group.users) } : group
    ),
  };
}

/** The view after a command succeeded with `ack`. */
export function afterSuccess(view: ClientView, command: RequestCommand, ack: Frame): ClientView {
  switch (command.kind) {
    case "addfriend": {
      const friend = readAddedFriend(ack);
      if (friend) return withFriend(view, friend);
      if (view.friends.some((known) => known.id === command.friendid)) return view;
      return withFriend(view, { id: command.friendid });
    }
    case "removefriend":
      return { ...view, friends: view.friends.filter((friend) => friend.id !== command.friendid) };
    case "addgroup": {
      const group = readJoinedGroup(ack);
      if (group) return withGroup(view, group);
      if (view.groups.some((known) => known.id === command.groupid)) return view;
      return ownGroup(view, { id: command.groupid, role: "normal" });
    }
    case "leavegroup":
      return { ...view, groups: view.groups.filter((group) => group.id !== command.groupid) };
    case "creategroup": {
      if (!Number.isSafeInteger(ack.groupid)) return view;
      if (view.groups.some((known) => known.id === ack.groupid)) return view;
      const { groupname, groupdesc } = command;
      return ownGroup(view, { id: ack.groupid as number, groupname, groupdesc, role: "creator" });
    }
    default:
      return view;
  }
}

/** The view after a roster update from the server. */
export function afterUpdate(view: ClientView, update: RosterUpdate): ClientView {
  if (update.msgid === 17) {
    const state = update.state;
    return {
      ...view,
      friends: view.friends.map((friend) =>
        friend.id === update.id ? { ...friend, state } : friend
      ),
      groups: view.groups.map((group) => ({
        ...group,
        users: group.users.map((user) => user.id === update.id ? { ...user, state } : user),
      })),
    };
  }
  switch (update.event) {
    case "friend_added":
      return withFriend(view, update.friend);
    case "friend_removed":
      return { ...view, friends: view.friends.filter((friend) => friend.id !== update.id) };
    case "member_joined":
      return mapGroup(
        view,
        update.groupid,
        (users) =>
          [...users.filter((user) => user.id !== update.user.id), update.user].sort((a, b) =>
            a.id - b.id
          ),
      );
    case "member_left":
      return mapGroup(
        view,
        update.groupid,
        (users) =>
          users.filter((user) => user.id !== update.id).map((user) =>
            user.id === update.creator ? { ...user, role: "creator" } : user
          ),
      );
  }
}
