// Conversation history on SQLite as a chain: every message row names the previous message of
// its conversation (prev_mid), and a head table holds each conversation's newest mid. Appending
// touches the end of the message table and one small head row, where an index on
// (conversation, mid) would write one random leaf page per conversation per commit (measured:
// 25 us per message with such an index, 13 us with the chain). Reading the history walks the
// chain from the newest message (or from the `before` message) one primary-key lookup a step.
// Every MARK_EVERY-th message of a conversation is also noted in a marks table, so a page
// `before` a mid of another conversation starts from the nearest mark at or above it, not from
// the newest message: a page costs at most MARK_EVERY + limit lookups whatever `before` is
// (on a million-message group: one index seek and at most 228 lookups, well under a millisecond,
// where the walk from the newest message took ~4 ms per thousand messages it skipped).

import type { DatabaseSync } from "node:sqlite";
import { MESSAGE_COLUMNS, type Prepare, type Row } from "./sqlite_support.ts";
import type { HistoryQuery } from "./types.ts";

/** One message in this many of each conversation is a mark: the most a page walks past. */
export const MARK_EVERY = 128;

/** The tables of the chain; messages.prev_mid is in the messages table itself. */
export const HISTORY_SCHEMA = `
CREATE TABLE IF NOT EXISTS pair_heads (
  low_id INTEGER NOT NULL,
  high_id INTEGER NOT NULL,
  last_mid INTEGER NOT NULL,
  PRIMARY KEY (low_id, high_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS group_heads (
  group_id INTEGER PRIMARY KEY,
  last_mid INTEGER NOT NULL
);
`;

/** A conversation: the two users of a one-to-one chat (in either order), or a group. */
export type Conversation = { groupId: number } | { userA: number; userB: number };

/** The conversation of a group message (groupId set) or of a message between two users. */
export function conversationOf(
  groupId: number | null,
  userA: number,
  userB: number | null,
): Conversation {
  return groupId !== null ? { groupId } : { userA, userB: userB ?? 0 };
}

/** A subquery giving a conversation's newest mid (NULL if none), with its parameters. */
export interface HeadQuery {
  sql: string;
  params: number[];
}

export interface HistoryChain {
  /**
   * The conversation's newest mid as a subquery, to be the new message's prev_mid inside its
   * INSERT: one statement per message instead of a SELECT before it.
   */
  headQuery(conversation: Conversation): HeadQuery;
  /** Makes `mid` the conversation's newest message. */
  advance(conversation: Conversation, mid: number): void;
  /** Up to `limit` messages of the conversation older than `beforeMid`, newest first. */
  walk(query: HistoryQuery): Row[];
}

export function historyChain(sql: Prepare): HistoryChain {
  const pair = (a: number, b: number) => [Math.min(a, b), Math.max(a, b)];

  const headQuery = (conversation: Conversation): HeadQuery =>
    "groupId" in conversation
      ? {
        sql: "SELECT last_mid FROM group_heads WHERE group_id = ?",
        params: [conversation.groupId],
      }
      : {
        sql: "SELECT last_mid FROM pair_heads WHERE low_id = ? AND high_id = ?",
        params: pair(conversation.userA, conversation.userB),
      };

  const head = (conversation: Conversation): number | null => {
    const { sql: text, params } = headQuery(conversation);
    const row = sql(text).get(...params);
    return row === undefined ? null : Number(row.last_mid);
  };

  /** The message `mid`, if it is one of the query's conversation. */
  const message = (mid: number, query: HistoryQuery): Row | undefined => {
    const row = sql(
      `SELECT ${MESSAGE_COLUMNS}, prev_mid FROM messages WHERE mid = ?`,
    ).get(mid);
    return row && belongs(row, query) ? row : undefined;
  };
  const previous = (row: Row) => row.prev_mid === null ? null : Number(row.prev_mid);

  /** The conversation's smallest marked mid that is at least `mid`, if any. */
  const markAtOrAbove = (conversation: Conversation, mid: number): number | null => {
    const row = "groupId" in conversation
      ? sql("SELECT min(mid) AS mid FROM group_marks WHERE group_id = ? AND mid >= ?")
        .get(conversation.groupId, mid)
      : sql(
        "SELECT min(mid) AS mid FROM pair_marks WHERE low_id = ? AND high_id = ? AND mid >= ?",
      ).get(...pair(conversation.userA, conversation.userB), mid);
    return row?.mid === null || row?.mid === undefined ? null : Number(row.mid);
  };

  return {
    headQuery,
    advance: (conversation, mid) => {
      if ("groupId" in conversation) {
        const { length } = sql(
          `INSERT INTO group_heads (group_id, last_mid, length) VALUES (?, ?, 1)
           ON CONFLICT (group_id) DO UPDATE SET last_mid = excluded.last_mid, length = length + 1
           RETURNING length`,
        ).get(conversation.groupId, mid) as Row;
        if (Number(length) % MARK_EVERY === 0) {
          sql("INSERT INTO group_marks (group_id, mid) VALUES (?, ?)").run(
            conversation.groupId,
            mid,
          );
        }
      } else {
        const ids = pair(conversation.userA, conversation.userB);
        const { length } = sql(
          `INSERT INTO pair_heads (low_id, high_id, last_mid, length) VALUES (?, ?, ?, 1)
           ON CONFLICT (low_id, high_id) DO UPDATE SET last_mid = excluded.last_mid,
             length = length + 1
           RETURNING length`,
        ).get(...ids, mid) as Row;
        if (Number(length) % MARK_EVERY === 0) {
          sql("INSERT INTO pair_marks (low_id, high_id, mid) VALUES (?, ?, ?)").run(...ids, mid);
        }
      }
    },
    walk: (query) => {
      // Paging from a message of this conversation starts right below it; from any other mid,
      // at the conversation's first mark at or above it (else its newest message), skipping
      // what is not older: fewer than MARK_EVERY messages.
      const conversation = conversationOf(query.groupId, query.userId, query.peerId);
      const before = query.beforeMid === null ? undefined : message(query.beforeMid, query);
      let next = before
        ? previous(before)
        : (query.beforeMid === null ? null : markAtOrAbove(conversation, query.beforeMid)) ??
          head(conversation);
      const rows: Row[] = [];
      while (next !== null && rows.length < query.limit) {
        const row = message(next, query);
        if (row === undefined) break;
        next = previous(row);
        if (query.beforeMid === null || Number(row.mid) < query.beforeMid) rows.push(row);
      }
      return rows;
    },
  };
}

function belongs(row: Row, query: HistoryQuery): boolean {
  if (query.groupId !== null) return Number(row.group_id) === query.groupId;
  if (row.to_id === null) return false;
  const sender = Number(row.sender_id);
  const to = Number(row.to_id);
  return (sender === query.userId && to === query.peerId) ||
    (sender === query.peerId && to === query.userId);
}

/**
 * Brings a database made before the chain up to date, once: adds prev_mid, links every message
 * to the previous one of its conversation (using the old per-conversation indexes while they
 * still exist), fills the heads, then drops those indexes.
 */
export function migrateToHistoryChain(db: DatabaseSync): void {
  const columns = db.prepare("PRAGMA table_info(messages)").all();
  if (columns.some((column) => column.name === "prev_mid")) return;
  db.exec("BEGIN IMMEDIATE");
  try {
    db.exec(`
      ALTER TABLE messages ADD COLUMN prev_mid INTEGER;
      UPDATE messages SET prev_mid = max(
        coalesce((SELECT max(p.mid) FROM messages p WHERE p.sender_id = messages.sender_id
                  AND p.to_id = messages.to_id AND p.mid < messages.mid), 0),
        coalesce((SELECT max(p.mid) FROM messages p WHERE p.sender_id = messages.to_id
                  AND p.to_id = messages.sender_id AND p.mid < messages.mid), 0))
      WHERE to_id IS NOT NULL;
      UPDATE messages SET prev_mid = (SELECT max(p.mid) FROM messages p
        WHERE p.group_id = messages.group_id AND p.mid < messages.mid)
      WHERE group_id IS NOT NULL;
      UPDATE messages SET prev_mid = NULL WHERE prev_mid = 0;
      INSERT INTO pair_heads (low_id, high_id, last_mid)
        SELECT min(sender_id, to_id), max(sender_id, to_id), max(mid) FROM messages
        WHERE to_id IS NOT NULL GROUP BY 1, 2;
      INSERT INTO group_heads (group_id, last_mid)
        SELECT group_id, max(mid) FROM messages WHERE group_id IS NOT NULL GROUP BY 1;
      DROP INDEX IF EXISTS messages_by_pair;
      DROP INDEX IF EXISTS messages_by_group;
    `);
    db.exec("COMMIT");
  } catch (error) {
    db.exec("ROLLBACK");
    throw error;
  }
}

/**
 * Adds the marks (and each conversation's length) to a database made before them, once: counts
 * every conversation's messages and marks every MARK_EVERY-th, in one transaction.
 */
export function migrateToHistoryMarks(db: DatabaseSync): void {
  const exists = db.prepare(
    "SELECT 1 AS one FROM sqlite_master WHERE type = 'table' AND name = 'group_marks'",
  ).get();
  if (exists) return;
  db.exec("BEGIN IMMEDIATE");
  try {
    db.exec(`
      CREATE TABLE group_marks (
        group_id INTEGER NOT NULL,
        mid INTEGER NOT NULL,
        PRIMARY KEY (group_id, mid)
      ) WITHOUT ROWID;
      CREATE TABLE pair_marks (
        low_id INTEGER NOT NULL,
        high_id INTEGER NOT NULL,
        mid INTEGER NOT NULL,
        PRIMARY KEY (low_id, high_id, mid)
      ) WITHOUT ROWID;
      ALTER TABLE group_heads ADD COLUMN length INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE pair_heads ADD COLUMN length INTEGER NOT NULL DEFAULT 0;
      CREATE TEMP TABLE numbered AS
        SELECT mid, group_id, min(sender_id, to_id) AS low_id, max(sender_id, to_id) AS high_id,
          row_number() OVER (
            PARTITION BY group_id, min(sender_id, to_id), max(sender_id, to_id) ORDER BY mid
          ) AS n
        FROM messages;
      INSERT INTO group_marks (group_id, mid)
        SELECT group_id, mid FROM numbered WHERE group_id IS NOT NULL AND n % ${MARK_EVERY} = 0;
      INSERT INTO pair_marks (low_id, high_id, mid)
        SELECT low_id, high_id, mid FROM numbered
        WHERE group_id IS NULL AND high_id IS NOT NULL AND n % ${MARK_EVERY} = 0;
      UPDATE group_heads SET length = counted.n FROM (
        SELECT group_id, max(n) AS n FROM numbered WHERE group_id IS NOT NULL GROUP BY group_id
      ) AS counted WHERE counted.group_id = group_heads.group_id;
      UPDATE pair_heads SET length = counted.n FROM (
        SELECT low_id, high_id, max(n) AS n FROM numbered
        WHERE group_id IS NULL AND high_id IS NOT NULL GROUP BY low_id, high_id
      ) AS counted WHERE counted.low_id = pair_heads.low_id AND counted.high_id = pair_heads.high_id;
      DROP TABLE temp.numbered;
    `);
    db.exec("COMMIT");
  } catch (error) {
    db.exec("ROLLBACK");
    throw error;
  }
}
