// The roster updates a server sends (PRESENCE, msgid 17, and ROSTER, msgid 18): how they are
// built, and how one that came over the bus is read back (another server's frame is checked, not
// trusted to be well formed).

import {
  type Frame,
  type GroupMemberView,
  type GroupRole,
  MsgId,
  type PresencePush,
  type PresenceState,
  type RosterPush,
  type RosterUpdate,
} from "../protocol.ts";

export function presencePush(id: number, name: string, state: PresenceState): PresencePush {
  return { msgid: MsgId.PRESENCE, id, name, state };
}

/** `friend` added the recipient as a friend; `friend` is online (they just did it). */
export function friendAdded(friend: { id: number; name: string }): RosterPush {
  return {
    msgid: MsgId.ROSTER,
    event: "friend_added",
    friend: { id: friend.id, name: friend.name, state: "online" },
  };
}

export function friendRemoved(id: number): RosterPush {
  return { msgid: MsgId.ROSTER, event: "friend_removed", id };
}

export function memberJoined(groupid: number, user: GroupMemberView): RosterPush {
  return { msgid: MsgId.ROSTER, event: "member_joined", groupid, user };
}

export function memberLeft(groupid: number, id: number, creator: number | null): RosterPush {
  const promoted = creator === null ? {} : { creator };
  return { msgid: MsgId.ROSTER, event: "member_left", groupid, id, ...promoted };
}

/** The update `frame` is, or null when it is not a well-formed one. */
export function readRosterUpdate(frame: Frame): RosterUpdate | null {
  if (frame.msgid === MsgId.PRESENCE) {
    if (!isId(frame.id) || typeof frame.name !== "string" || !isState(frame.state)) return null;
    return presencePush(frame.id, frame.name, frame.state);
  }
  if (frame.msgid !== MsgId.ROSTER) return null;
  switch (frame.event) {
    case "friend_added": {
      const friend = frame.friend as Frame | undefined;
      if (!isObject(friend) || !isId(friend.id) || typeof friend.name !== "string") return null;
      return friendAdded({ id: friend.id, name: friend.name });
    }
    case "friend_removed":
      return isId(frame.id) ? friendRemoved(frame.id) : null;
    case "member_joined": {
      const user = frame.user as Frame | undefined;
      if (
        !isId(frame.groupid) || !isObject(user) || !isId(user.id) ||
        typeof user.name !== "string" || !isState(user.state) ||
        (user.role !== "creator" && user.role !== "normal")
      ) {
        return null;
      }
      const role: GroupRole = user.role;
      return memberJoined(frame.groupid, { id: user.id, name: user.name, state: user.state, role });
    }
    case "member_left":
      if (!isId(frame.groupid) || !isId(frame.id)) return null;
      if (frame.creator !== undefined && !isId(frame.creator)) return null;
      return memberLeft(frame.groupid, frame.id, (frame.creator as number | undefined) ?? null);
  }
  return null;
}

function isId(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) > 0;
}

function isState(value: unknown): value is PresenceState {
  return value === "online" || value === "offline";
}

function isObject(value: unknown): value is Frame {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
