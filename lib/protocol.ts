// Message numbers, limits and shapes of protocol v1 (see docs/PROTOCOL.md), shared by server and client.

/** msgid values. 1–12 are protocol v1; 13 and up are this project's extensions. */
export const MsgId = {
  LOGIN: 1,
  LOGIN_ACK: 2,
  LOGOUT: 3,
  REGISTER: 4,
  REGISTER_ACK: 5,
  ONE_CHAT: 6,
  ADD_FRIEND: 7,
  CREATE_GROUP: 8,
  ADD_GROUP: 9,
  GROUP_CHAT: 10,
  ACK: 11,
  ERROR: 12,
  RECEIPT: 13,
  HISTORY: 14,
  PING: 15,
  NOTICE: 16,
  PRESENCE: 17,
  ROSTER: 18,
  REMOVE_FRIEND: 19,
  LEAVE_GROUP: 20,
  CHANGE_PASSWORD: 21,
} as const;

export type MsgIdValue = typeof MsgId[keyof typeof MsgId];

/** Field limits, in characters (Unicode code points). */
export const Limits = {
  nameMax: 50,
  passwordMax: 128,
  /** A session token as sent at login (the server's are 43 characters). */
  tokenMax: 128,
  msgMax: 4096,
  groupNameMax: 50,
  groupDescMax: 200,
  /** Idempotency key of a chat request. */
  keyMax: 64,
  /** mids in one RECEIPT. */
  receiptMids: 1000,
  /** Messages in one HISTORY page. */
  historyMax: 100,
} as const;

/** Default largest frame body the server accepts, in bytes. */
export const DEFAULT_MAX_FRAME = 1024 * 1024;

/** Any JSON object as it travels on the wire. */
export type Frame = Record<string, unknown>;

export type PresenceState = "online" | "offline";
export type GroupRole = "creator" | "normal";

export interface FriendView {
  id: number;
  name: string;
  state: PresenceState;
}

export interface GroupMemberView {
  id: number;
  name: string;
  state: PresenceState;
  role: GroupRole;
}

export interface GroupView {
  id: number;
  groupname: string;
  groupdesc: string;
  users: GroupMemberView[];
}

/** A one-to-one chat push (msgid 6, server → client). */
export type OneChatPush = {
  msgid: typeof MsgId.ONE_CHAT;
  mid: number;
  id: number;
  name: string;
  toid: number;
  msg: string;
  time: string;
};

/** A group chat push (msgid 10, server → client). */
export type GroupChatPush = {
  msgid: typeof MsgId.GROUP_CHAT;
  mid: number;
  id: number;
  name: string;
  groupid: number;
  msg: string;
  time: string;
};

export type ChatPush = OneChatPush | GroupChatPush;

/** A friend's cluster-wide state changed (msgid 17, server → client). */
export type PresencePush = {
  msgid: typeof MsgId.PRESENCE;
  id: number;
  name: string;
  state: PresenceState;
};

/** A change to the user's friends or groups made by someone else (msgid 18, server → client). */
export type RosterPush =
  & { msgid: typeof MsgId.ROSTER }
  & (
    | { event: "friend_added"; friend: FriendView }
    | { event: "friend_removed"; id: number }
    | { event: "member_joined"; groupid: number; user: GroupMemberView }
    /** `creator`: the member who became creator, when the one who left was. */
    | { event: "member_left"; groupid: number; id: number; creator?: number }
  );

/** A push about the roster: never stored, lost when the user is not online. */
export type RosterUpdate = PresencePush | RosterPush;

/** Counts the characters (code points) of `text`, the unit of every limit; stops at `stopAt`. */
export function countCodePoints(text: string, stopAt = Infinity): number {
  let count = 0;
  for (const _ of text) {
    if (++count >= stopAt) break;
  }
  return count;
}
