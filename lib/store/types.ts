// The storage interface the chat core depends on. SQLite (embedded) and MySQL implement it;
// tests/store_contract.ts is the one contract every implementation must pass.
//
// Every method either completes entirely or throws: a ChatError with errno 6 (CONFLICT) for a
// uniqueness clash the caller can report, or a StorageError (errno 9) when the backend failed.

import type { GroupRole } from "../protocol.ts";

export interface UserRecord {
  id: number;
  name: string;
  passwordHash: string;
}

export interface UserSummary {
  id: number;
  name: string;
}

export interface GroupRecord {
  id: number;
  groupname: string;
  groupdesc: string;
}

export interface GroupMemberRecord {
  id: number;
  name: string;
  role: GroupRole;
}

export interface GroupWithMembers extends GroupRecord {
  members: GroupMemberRecord[];
}

/** A chat message as kept in the log. `mid` is cluster-unique and increases over time. */
export interface StoredMessage {
  mid: number;
  senderId: number;
  senderName: string;
  /** The recipient of a one-to-one message; null for a group message. */
  toId: number | null;
  /** The group of a group message; null for a one-to-one message. */
  groupId: number | null;
  msg: string;
  /** Server time, ISO-8601 UTC with milliseconds. */
  time: string;
}

export type NewMessage = Omit<StoredMessage, "mid"> & {
  /** Client-chosen idempotency key; a second message with the same sender and key is not kept. */
  key: string | null;
  /** Users the message must reach (for a group: every member but the sender). */
  recipients: readonly number[];
};

/** What append did: stored `message`, or found it stored earlier under the same key. */
export interface AppendResult {
  message: StoredMessage;
  duplicate: boolean;
}

export interface HistoryQuery {
  userId: number;
  /** The other user of a one-to-one conversation, or null with `groupId`. */
  peerId: number | null;
  groupId: number | null;
  /** Only messages with a smaller mid (paging backwards); null for the newest. */
  beforeMid: number | null;
  limit: number;
}

export interface UserRepository {
  /** Creates a user and returns its id. Throws CONFLICT when the name is taken. */
  create(name: string, passwordHash: string): Promise<number>;
  findById(id: number): Promise<UserRecord | null>;
  findByName(name: string): Promise<UserRecord | null>;
  /** Replaces the user's password hash and forgets every session token of theirs, atomically. */
  changePassword(id: number, passwordHash: string): Promise<void>;
}

/**
 * Session tokens, kept only as hashes (the token itself is never stored). Times are
 * milliseconds since the epoch from the caller's clock, so expiry follows one clock in tests.
 */
export interface TokenRepository {
  /**
   * Keeps `tokenHash` as a session of the user, last used `now`. Forgets the user's tokens last
   * used at or before `expiredAt` and, beyond the `keep` most recently used, the oldest.
   */
  add(
    userId: number,
    tokenHash: string,
    now: number,
    expiredAt: number,
    keep: number,
  ): Promise<void>;
  /**
   * When `tokenHash` is a token of the user last used after `expiredAt`: marks it used `now`
   * and returns true. An expired token is forgotten; anything else returns false.
   */
  use(userId: number, tokenHash: string, now: number, expiredAt: number): Promise<boolean>;
  /**
   * Forgets one token (logout); an unknown hash is ignored. A password change forgets all of a
   * user's tokens (UserRepository.changePassword).
   */
  revoke(tokenHash: string): Promise<void>;
}

export interface FriendRepository {
  /** Makes a and b friends of each other. Throws CONFLICT when they already are. */
  add(a: number, b: number): Promise<void>;
  /** Ends the friendship both ways; false when a and b were not friends. */
  remove(a: number, b: number): Promise<boolean>;
  /** The user's friends, ordered by id. */
  list(userId: number): Promise<UserSummary[]>;
}

/** What leaving a group did. */
export interface LeaveResult {
  /** The member who became creator because the one who left was, if any remained. */
  newCreator: number | null;
}

export interface GroupRepository {
  /** Creates a group with its creator as member (role "creator"). CONFLICT when the name is taken. */
  create(creatorId: number, groupname: string, groupdesc: string): Promise<number>;
  findById(groupId: number): Promise<GroupRecord | null>;
  /**
   * Adds a member with role "normal", or "creator" when the group has no members (its last one
   * left); returns the role. Throws CONFLICT when already a member.
   */
  join(groupId: number, userId: number): Promise<GroupRole>;
  /**
   * Removes a member; null when they were not one. When the creator leaves, the remaining
   * member who joined earliest (ties: the lower id) becomes creator. An empty group is kept: its
   * name stays taken and its history readable, and whoever joins it next is its creator.
   */
  leave(groupId: number, userId: number): Promise<LeaveResult | null>;
  isMember(groupId: number, userId: number): Promise<boolean>;
  /** Ids of every member of the group, in increasing order (none: no such group). */
  memberIds(groupId: number): Promise<readonly number[]>;
  /** The members of the group with names and roles, ordered by id (none: no such group). */
  members(groupId: number): Promise<GroupMemberRecord[]>;
  /** The user's groups with all their members, groups and members ordered by id. */
  listForUser(userId: number): Promise<GroupWithMembers[]>;
}

export interface MessageRepository {
  /**
   * Appends the message to the log and to every recipient's pending deliveries, atomically.
   * `recipients` may be empty (all of them take the message directly).
   * When the sender already used `key`, stores nothing and returns the earlier message.
   * A recipient with more than the store's pending cap loses their oldest pending deliveries;
   * they are counted (see takeDropped).
   */
  append(message: NewMessage): Promise<AppendResult>;
  /**
   * Makes the stored message `mid` pending for each of the users (those who already have it
   * pending keep one), with the cap applied as in append.
   */
  addPending(mid: number, userIds: readonly number[]): Promise<void>;
  /** Messages delivered to the user but not yet acknowledged, oldest first. */
  pending(userId: number): Promise<StoredMessage[]>;
  /**
   * Makes the stored messages `mids` pending for the user (one row each, those already pending
   * keep one), with the cap applied as in append.
   */
  keepPending(userId: number, mids: readonly number[]): Promise<void>;
  /** Marks messages as received by the user; mids not pending for them are ignored. */
  acknowledge(userId: number, mids: readonly number[]): Promise<void>;
  /** How many pending deliveries the cap dropped since the last call, resetting the count. */
  takeDropped(userId: number): Promise<number>;
  /** A page of a conversation, oldest first: the newest `limit` messages before `beforeMid`. */
  history(query: HistoryQuery): Promise<StoredMessage[]>;
}

/** Where a receipts session's cursor stands; `owner` names the session that holds it open. */
export interface CursorMark {
  userId: number;
  owner: number;
  /** Every message for the user up to this mid is acknowledged or pending (a row of its own). */
  upto: number;
}

/** What opening a delivery cursor found. */
export interface CursorOpening {
  /** The newest mid in the log when opened (0 for an empty log). */
  newest: number;
  /**
   * When the cursor was found open (the server of the session holding it stopped without
   * closing it): the messages for the user above it, oldest first, at most the newest `limit`.
   * Empty when it was closed or did not exist.
   */
  unconfirmed: StoredMessage[];
}

/**
 * Per-user delivery cursors of receipts sessions (lib/delivery_cursor.ts explains the scheme):
 * a message written directly to such a session gets no pending row; instead, while the session
 * holds the user's cursor open, every message for the user above the cursor counts as not yet
 * acknowledged. "For the user" means sent to them one-to-one, or to a group they are a member
 * of now by someone else.
 */
export interface CursorRepository {
  /**
   * Opens the user's cursor for the session `owner`. A cursor that was closed (or did not exist)
   * moves up to the newest mid in the log; one found open stays where it is and the messages
   * above it are returned (see CursorOpening). Either way it is open by `owner` afterwards.
   */
  open(userId: number, owner: number, limit: number): Promise<CursorOpening>;
  /**
   * Moves each cursor up to its mark's `upto` (never down), when it is still open by the mark's
   * owner; others are left as they are.
   */
  advance(marks: readonly CursorMark[]): Promise<void>;
  /** Moves the cursor up to `upto` and closes it, when it is still open by `owner`. */
  close(mark: CursorMark): Promise<void>;
}

/** Default most pending deliveries kept per user. */
export const DEFAULT_PENDING_CAP = 5000;

export interface Repositories {
  /** "sqlite" or "mysql", with where it points, for the start-up line. */
  readonly description: string;
  readonly users: UserRepository;
  readonly friends: FriendRepository;
  readonly groups: GroupRepository;
  readonly messages: MessageRepository;
  readonly tokens: TokenRepository;
  readonly cursors: CursorRepository;
  /** True when the backend answers a trivial query. */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}
