// Embedded store: the Repositories interface on a SQLite file through node:sqlite.
// Used when no MySQL is configured, so a newcomer needs nothing but Deno.

import { DatabaseSync, type StatementSync } from "node:sqlite";
import { StorageError } from "../errors.ts";
import type { GroupRole } from "../protocol.ts";
import { Checkpointer } from "./checkpointer.ts";
import { CURSOR_SCHEMA, sqliteCursors } from "./sqlite_cursors.ts";
import { MemberCache } from "./member_cache.ts";
import { HISTORY_SCHEMA, migrateToHistoryChain, migrateToHistoryMarks } from "./sqlite_history.ts";
import { sqliteMessages } from "./sqlite_messages.ts";
import { messageOf, type Row, run, TurnBatch } from "./sqlite_support.ts";
import { sqliteTokens, TOKEN_SCHEMA } from "./sqlite_tokens.ts";
import {
  type CursorRepository,
  DEFAULT_PENDING_CAP,
  type FriendRepository,
  type GroupMemberRecord,
  type GroupRecord,
  type GroupRepository,
  type GroupWithMembers,
  type MessageRepository,
  type Repositories,
  type TokenRepository,
  type UserRecord,
  type UserRepository,
  type UserSummary,
} from "./types.ts";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS users (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL UNIQUE,
  password_hash TEXT NOT NULL,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE TABLE IF NOT EXISTS friends (
  user_id INTEGER NOT NULL REFERENCES users(id),
  friend_id INTEGER NOT NULL REFERENCES users(id),
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  PRIMARY KEY (user_id, friend_id)
);
CREATE TABLE IF NOT EXISTS chat_groups (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  groupname TEXT NOT NULL UNIQUE,
  groupdesc TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE TABLE IF NOT EXISTS group_members (
  group_id INTEGER NOT NULL REFERENCES chat_groups(id),
  user_id INTEGER NOT NULL REFERENCES users(id),
  role TEXT NOT NULL CHECK (role IN ('creator', 'normal')),
  joined_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  PRIMARY KEY (group_id, user_id)
);
CREATE INDEX IF NOT EXISTS group_members_by_user ON group_members (user_id, group_id);
-- The message log is only appended to, so the largest mid is never deleted and a plain rowid
-- key (max + 1) keeps mids increasing, without AUTOINCREMENT's extra write per message.
CREATE TABLE IF NOT EXISTS messages (
  mid INTEGER PRIMARY KEY,
  sender_id INTEGER NOT NULL REFERENCES users(id),
  sender_name TEXT NOT NULL,
  to_id INTEGER REFERENCES users(id),
  group_id INTEGER REFERENCES chat_groups(id),
  msg TEXT NOT NULL,
  time TEXT NOT NULL,
  client_key TEXT,
  -- The previous message of the same conversation: history is a chain (sqlite_history.ts).
  prev_mid INTEGER
);
CREATE UNIQUE INDEX IF NOT EXISTS messages_by_key ON messages (sender_id, client_key)
  WHERE client_key IS NOT NULL;
CREATE TABLE IF NOT EXISTS pending_deliveries (
  user_id INTEGER NOT NULL REFERENCES users(id),
  mid INTEGER NOT NULL REFERENCES messages(mid),
  PRIMARY KEY (user_id, mid)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS mailboxes (
  user_id INTEGER PRIMARY KEY REFERENCES users(id),
  pending INTEGER NOT NULL DEFAULT 0,
  dropped INTEGER NOT NULL DEFAULT 0
);
`;

/**
 * Opens (creating if needed) a SQLite store. `path` may be ":memory:". A file in WAL mode gets a
 * checkpointer thread (lib/store/checkpointer.ts); `onWarning` hears if it fails.
 */
export function openSqliteStore(
  path: string,
  pendingCap: number = DEFAULT_PENDING_CAP,
  onWarning: (event: string, fields: Record<string, unknown>) => void = () => {},
): Repositories {
  let db: DatabaseSync;
  let checkpointer: Checkpointer | null = null;
  try {
    db = new DatabaseSync(path);
    db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;");
    db.exec("PRAGMA busy_timeout = 5000;");
    db.exec(SCHEMA);
    db.exec(HISTORY_SCHEMA);
    db.exec(TOKEN_SCHEMA);
    db.exec(CURSOR_SCHEMA);
    migrateToHistoryChain(db);
    migrateToHistoryMarks(db);
    if (db.prepare("PRAGMA journal_mode").get()?.journal_mode === "wal") {
      checkpointer = new Checkpointer(db, path, (message) => {
        onWarning("SQLite checkpointer thread failed; the server's connection checkpoints itself", {
          error: message,
        });
      });
    }
  } catch (error) {
    throw new StorageError(`cannot open SQLite database ${path}: ${messageOf(error)}`, {
      cause: error,
    });
  }
  return new SqliteStore(db, path, pendingCap, checkpointer);
}

class SqliteStore implements Repositories {
  readonly description: string;
  readonly users: UserRepository;
  readonly friends: FriendRepository;
  readonly groups: GroupRepository;
  readonly messages: MessageRepository;
  readonly tokens: TokenRepository;
  readonly cursors: CursorRepository;
  readonly #db: DatabaseSync;
  readonly #statements = new Map<string, StatementSync>();
  readonly #checkpointer: Checkpointer | null;

  constructor(
    db: DatabaseSync,
    path: string,
    pendingCap: number,
    checkpointer: Checkpointer | null,
  ) {
    this.#db = db;
    this.#checkpointer = checkpointer;
    this.description = `sqlite:${path}`;
    const sql = (text: string) => this.#prepare(text);
    const tx = <T>(work: () => T) => this.#transaction(work);
    const members = new MemberCache(() => Number(sql("PRAGMA data_version").get()!.data_version));

    this.users = {
      create: (name, passwordHash) =>
        run(() => {
          const result = sql("INSERT INTO users (name, password_hash) VALUES (?, ?)").run(
            name,
            passwordHash,
          );
          return Number(result.lastInsertRowid);
        }, "name is already taken"),
      findById: (id) =>
        run(() => toUser(sql("SELECT id, name, password_hash FROM users WHERE id = ?").get(id))),
      findByName: (name) =>
        run(() =>
          toUser(sql("SELECT id, name, password_hash FROM users WHERE name = ?").get(name))
        ),
      changePassword: (id, passwordHash) =>
        run(() =>
          tx(() => {
            sql("UPDATE users SET password_hash = ? WHERE id = ?").run(passwordHash, id);
            sql("DELETE FROM session_tokens WHERE user_id = ?").run(id);
          })
        ),
    };

    this.friends = {
      add: (a, b) =>
        run(() =>
          tx(() => {
            const insert = sql("INSERT INTO friends (user_id, friend_id) VALUES (?, ?)");
            insert.run(a, b);
            insert.run(b, a);
          }), "already friends"),
      remove: (a, b) =>
        run(() =>
          sql(
            `DELETE FROM friends
             WHERE (user_id = ? AND friend_id = ?) OR (user_id = ? AND friend_id = ?)`,
          ).run(a, b, b, a).changes > 0
        ),
      list: (userId) =>
        run(() =>
          sql(
            `SELECT u.id, u.name FROM friends f JOIN users u ON u.id = f.friend_id
             WHERE f.user_id = ? ORDER BY u.id`,
          ).all(userId).map(toSummary)
        ),
    };

    this.groups = {
      create: (creatorId, groupname, groupdesc) =>
        run(() =>
          tx(() => {
            const result = sql("INSERT INTO chat_groups (groupname, groupdesc) VALUES (?, ?)")
              .run(groupname, groupdesc);
            const groupId = Number(result.lastInsertRowid);
            sql("INSERT INTO group_members (group_id, user_id, role) VALUES (?, ?, 'creator')")
              .run(groupId, creatorId);
            members.forget(groupId);
            return groupId;
          }), "group name is already taken"),
      findById: (groupId) =>
        run(() =>
          toGroup(sql("SELECT id, groupname, groupdesc FROM chat_groups WHERE id = ?").get(groupId))
        ),
      join: (groupId, userId) =>
        run(() =>
          tx(() => {
            members.forget(groupId);
            const empty = sql("SELECT 1 AS one FROM group_members WHERE group_id = ? LIMIT 1")
              .get(groupId) === undefined;
            const role: GroupRole = empty ? "creator" : "normal";
            sql("INSERT INTO group_members (group_id, user_id, role) VALUES (?, ?, ?)")
              .run(groupId, userId, role);
            return role;
          }), "already a member of this group"),
      leave: (groupId, userId) =>
        run(() =>
          tx(() => {
            const member = sql("SELECT role FROM group_members WHERE group_id = ? AND user_id = ?")
              .get(groupId, userId);
            if (!member) return null;
            members.forget(groupId);
            sql("DELETE FROM group_members WHERE group_id = ? AND user_id = ?").run(
              groupId,
              userId,
            );
            if (member.role !== "creator") return { newCreator: null };
            const earliest = sql(
              `SELECT user_id FROM group_members WHERE group_id = ?
               ORDER BY joined_at, user_id LIMIT 1`,
            ).get(groupId);
            if (!earliest) return { newCreator: null };
            const newCreator = Number(earliest.user_id);
            sql("UPDATE group_members SET role = 'creator' WHERE group_id = ? AND user_id = ?")
              .run(groupId, newCreator);
            return { newCreator };
          })
        ),
      isMember: (groupId, userId) =>
        run(() =>
          sql("SELECT 1 AS one FROM group_members WHERE group_id = ? AND user_id = ?")
            .get(groupId, userId) !== undefined
        ),
      memberIds: (groupId) =>
        run(() =>
          members.get(
            groupId,
            () =>
              sql("SELECT user_id FROM group_members WHERE group_id = ? ORDER BY user_id")
                .all(groupId).map((row) => Number(row.user_id)),
          )
        ),
      members: (groupId) =>
        run(() =>
          sql(
            `SELECT u.id AS user_id, u.name, m.role FROM group_members m
             JOIN users u ON u.id = m.user_id WHERE m.group_id = ? ORDER BY u.id`,
          ).all(groupId).map(toMember)
        ),
      listForUser: (userId) =>
        run(() => {
          const rows = sql(
            `SELECT g.id AS group_id, g.groupname, g.groupdesc, u.id AS user_id, u.name, m.role
             FROM group_members mine
             JOIN chat_groups g ON g.id = mine.group_id
             JOIN group_members m ON m.group_id = g.id
             JOIN users u ON u.id = m.user_id
             WHERE mine.user_id = ?
             ORDER BY g.id, u.id`,
          ).all(userId);
          return groupRows(rows);
        }),
    };

    const batch = new TurnBatch((text) => void sql(text).run());
    this.messages = sqliteMessages(sql, tx, batch, pendingCap);
    this.tokens = sqliteTokens(sql, tx);
    this.cursors = sqliteCursors(sql, tx, batch);
  }

  ping(): Promise<boolean> {
    try {
      this.#prepare("SELECT 1").get();
      return Promise.resolve(true);
    } catch {
      return Promise.resolve(false);
    }
  }

  async close(): Promise<void> {
    await this.#checkpointer?.stop();
    if (this.#db.isOpen) this.#db.close();
  }

  #prepare(text: string): StatementSync {
    let statement = this.#statements.get(text);
    if (!statement) {
      statement = this.#db.prepare(text);
      this.#statements.set(text, statement);
    }
    return statement;
  }

  #transaction<T>(work: () => T): T {
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      const result = work();
      this.#db.exec("COMMIT");
      return result;
    } catch (error) {
      this.#db.exec("ROLLBACK");
      throw error;
    }
  }
}

function toUser(row: Row | undefined): UserRecord | null {
  if (!row) return null;
  return { id: Number(row.id), name: String(row.name), passwordHash: String(row.password_hash) };
}

function toSummary(row: Row): UserSummary {
  return { id: Number(row.id), name: String(row.name) };
}

export function toMember(row: Row): GroupMemberRecord {
  return { id: Number(row.user_id), name: String(row.name), role: String(row.role) as GroupRole };
}

function toGroup(row: Row | undefined): GroupRecord | null {
  if (!row) return null;
  return { id: Number(row.id), groupname: String(row.groupname), groupdesc: String(row.groupdesc) };
}

/** Folds (group, member) rows ordered by group into groups with member lists. */
export function groupRows(rows: Row[]): GroupWithMembers[] {
  const groups: GroupWithMembers[] = [];
  for (const row of rows) {
    const groupId = Number(row.group_id);
    let group = groups[groups.length - 1];
    if (!group || group.id !== groupId) {
      group = {
        id: groupId,
        groupname: String(row.groupname),
        groupdesc: String(row.groupdesc),
        members: [],
      };
      groups.push(group);
    }
    group.members.push(toMember(row));
  }
  return groups;
}
