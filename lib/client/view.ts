// What this client knows about its user: the LOGIN_ACK snapshot of friends and groups plus the
// changes this client made since. The server sends no refresh, so the view is local and partial.

import type { Frame, GroupMemberView, PresenceState } from "../protocol.ts";
import type { RequestCommand } from "./commands.ts";

/** A friend; a friend added in this session has only an id. */
export interface KnownFriend {
  id: number;
  name?: string;
  state?: PresenceState;
}

/** A group; a group joined in this session has only an id and this user as a member. */
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

function withFriend(view: ClientView, friendid: number): ClientView {
  if (view.friends.some((friend) => friend.id === friendid)) return view;
  return { ...view, friends: [...view.friends, { id: friendid }] };
}

function withGroup(
  view: ClientView,
  group: { id: number; groupname?: string; groupdesc?: string; role: "creator" | "normal" },
): ClientView {
  if (view.groups.some((known) => known.id === group.id)) return view;
  const { role, ...fields } = group;
  const self: GroupMemberView = { id: view.id, name: view.name, state: "online", role };
  return { ...view, groups: [...view.groups, { ...fields, users: [self] }] };
}

/** The view after a command succeeded with `ack`. */
export function afterSuccess(view: ClientView, command: RequestCommand, ack: Frame): ClientView {
  switch (command.kind) {
    case "addfriend":
      return withFriend(view, command.friendid);
    case "addgroup":
      return withGroup(view, { id: command.groupid, role: "normal" });
    case "creategroup": {
      if (!Number.isSafeInteger(ack.groupid)) return view;
      const { groupname, groupdesc } = command;
      return withGroup(view, { id: ack.groupid as number, groupname, groupdesc, role: "creator" });
    }
    default:
      return view;
  }
}
