// Reads server frames into typed values. The server is trusted to follow the protocol but not to
// be perfect: malformed entries are skipped and missing fields get neutral values, never a crash.

import {
  type ChatPush,
  type Frame,
  type FriendView,
  type GroupMemberView,
  MsgId,
  type PresenceState,
  type RosterUpdate,
} from "../protocol.ts";
import type { ClientView, KnownFriend, KnownGroup } from "./view.ts";

/** A successful LOGIN_ACK: the user's view and the messages stored while they were away. */
export interface LoginResult {
  view: ClientView;
  offline: ChatPush[];
  /** Offline messages that follow the ACK as pushes. */
  more: number;
  /** Offline messages the server's per-user cap discarded since the last login. */
  dropped: number;
  /** The session token to log in with next time (none from a server without tokens). */
  token: string | null;
}

/** A chat push (msgid 6 or 10), or null if the frame is not a well-formed one. */
export function readChatPush(frame: Frame): ChatPush | null {
  const mid = integer(frame.mid);
  const id = integer(frame.id);
  const name = text(frame.name);
  const msg = text(frame.msg);
  const time = text(frame.time);
  if (
    mid === undefined || id === undefined || name === undefined || msg === undefined ||
    time === undefined
  ) {
    return null;
  }
  if (frame.msgid === MsgId.ONE_CHAT) {
    const toid = integer(frame.toid);
    return toid === undefined ? null : { msgid: MsgId.ONE_CHAT, mid, id, name, toid, msg, time };
  }
  if (frame.msgid === MsgId.GROUP_CHAT) {
    const groupid = integer(frame.groupid);
    return groupid === undefined
      ? null
      : { msgid: MsgId.GROUP_CHAT, mid, id, name, groupid, msg, time };
  }
  return null;
}

/** A PRESENCE (17) or ROSTER (18) push, or null if the frame is not a well-formed one. */
export function readRosterUpdate(frame: Frame): RosterUpdate | null {
  if (frame.msgid === MsgId.PRESENCE) {
    const id = integer(frame.id);
    const state = presence(frame.state);
    if (id === undefined || state === undefined) return null;
    return { msgid: MsgId.PRESENCE, id, name: text(frame.name) ?? "", state };
  }
  if (frame.msgid !== MsgId.ROSTER) return null;
  const roster = MsgId.ROSTER;
  switch (frame.event) {
    case "friend_added": {
      const friend = object(frame.friend, readFriendView);
      return friend ? { msgid: roster, event: "friend_added", friend } : null;
    }
    case "friend_removed": {
      const id = integer(frame.id);
      return id === undefined ? null : { msgid: roster, event: "friend_removed", id };
    }
    case "member_joined": {
      const groupid = integer(frame.groupid);
      const user = object(frame.user, readMember);
      if (groupid === undefined || !user) return null;
      return { msgid: roster, event: "member_joined", groupid, user };
    }
    case "member_left": {
      const groupid = integer(frame.groupid);
      const id = integer(frame.id);
      if (groupid === undefined || id === undefined) return null;
      const creator = integer(frame.creator);
      const promoted = creator === undefined ? {} : { creator };
      return { msgid: roster, event: "member_left", groupid, id, ...promoted };
    }
  }
  return null;
}

/** The group of an ADD_GROUP ACK, or null when it has none. */
export function readJoinedGroup(ack: Frame): KnownGroup | null {
  return object(ack.group, readGroup);
}

/** The friend of an ADD_FRIEND ACK, or null when it has none. */
export function readAddedFriend(ack: Frame): FriendView | null {
  return object(ack.friend, readFriendView);
}

/** Reads a LOGIN_ACK with errno 0. */
export function readLoginAck(frame: Frame): LoginResult {
  const view: ClientView = {
    id: integer(frame.id) ?? 0,
    name: text(frame.name) ?? "",
    friends: list(frame.friends, readFriend),
    groups: list(frame.groups, readGroup),
  };
  const node = text(frame.node);
  if (node !== undefined) view.node = node;
  return {
    view,
    offline: list(frame.offlinemsg, readChatPush),
    more: integer(frame.offlinemore) ?? 0,
    dropped: integer(frame.offlinedropped) ?? 0,
    token: text(frame.token) ?? null,
  };
}

/** The messages of a HISTORY reply, oldest first; malformed entries are skipped. */
export function readHistory(frame: Frame): ChatPush[] {
  return list(frame.messages, readChatPush);
}

/** The `errno` of a reply, or undefined if it has none. */
export function errnoOf(frame: Frame): number | undefined {
  return integer(frame.errno);
}

function readFriend(entry: Frame): KnownFriend | null {
  const id = integer(entry.id);
  if (id === undefined) return null;
  return { id, name: text(entry.name), state: presence(entry.state) };
}

function readFriendView(entry: Frame): FriendView | null {
  const id = integer(entry.id);
  const state = presence(entry.state);
  if (id === undefined || state === undefined) return null;
  return { id, name: text(entry.name) ?? "", state };
}

function readGroup(entry: Frame): KnownGroup | null {
  const id = integer(entry.id);
  if (id === undefined) return null;
  return {
    id,
    groupname: text(entry.groupname),
    groupdesc: text(entry.groupdesc),
    users: list(entry.users, readMember),
  };
}

function readMember(entry: Frame): GroupMemberView | null {
  const id = integer(entry.id);
  if (id === undefined) return null;
  return {
    id,
    name: text(entry.name) ?? "",
    state: presence(entry.state) ?? "offline",
    role: entry.role === "creator" ? "creator" : "normal",
  };
}

function object<T>(value: unknown, read: (entry: Frame) => T | null): T | null {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return null;
  return read(value as Frame);
}

function list<T>(value: unknown, read: (entry: Frame) => T | null): T[] {
  if (!Array.isArray(value)) return [];
  const items: T[] = [];
  for (const entry of value) {
    if (typeof entry !== "object" || entry === null || Array.isArray(entry)) continue;
    const item = read(entry as Frame);
    if (item !== null) items.push(item);
  }
  return items;
}

function integer(value: unknown): number | undefined {
  return Number.isSafeInteger(value) ? value as number : undefined;
}

function text(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

function presence(value: unknown): PresenceState | undefined {
  return value === "online" || value === "offline" ? value : undefined;
}
