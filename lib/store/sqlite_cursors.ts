// Delivery cursors of receipts sessions on SQLite (the CursorRepository of types.ts): one row per
// user with the mid up to which everything for them is acknowledged or pending, and the session
// holding it open (owner NULL: closed).
//
// What is above a cursor left open (after a server stopped without closing it) is found by
// walking the history chains (sqlite_history.ts) of the user's conversations that moved since:
// the one-to-one ones from pair_heads (by its key for the user as low_id, by pair_heads_by_high
// as high_id), the groups they are in from group_members, each back from its head to the
// cursor, one primary-key lookup per message, stopping after `limit` wanted ones. Nothing is
// added to the write path: an index on messages(to_id), which would serve the one-to-one half
// as one range, costs a random index leaf per message appended; measured on a file store
// (100k one-to-one messages among 2000 users, 100 per turn): 15 -> 23 us per message taken
// directly, 34 -> 63 us with a pending row. pair_heads_by_high only changes when two users
// first talk (a head's last_mid is not in it). The walk reads what is above the cursor in those
// conversations, the user's own messages included; it only runs for users whose session's
// server stopped without closing their cursor.

import {
  MESSAGE_COLUMNS,
  type Prepare,
  type Row,
  run,
  runBatched,
  type Transaction,
  type TurnBatch,
} from "./sqlite_support.ts";
import { toMessage } from "./sqlite_messages.ts";
import type { CursorRepository } from "./types.ts";

/** The cursors' table, and the index that serves the one-to-one half of the unconfirmed scan. */
export const CURSOR_SCHEMA = `
CREATE TABLE IF NOT EXISTS delivery_cursors (
  user_id INTEGER PRIMARY KEY REFERENCES users(id),
  upto INTEGER NOT NULL,
  owner INTEGER
);
CREATE INDEX IF NOT EXISTS pair_heads_by_high ON pair_heads (high_id, low_id);
`;

export function sqliteCursors(sql: Prepare, tx: Transaction, batch: TurnBatch): CursorRepository {
  /** The newest `limit` messages for the user above `upto`, newest first. */
  const above = (userId: number, upto: number, limit: number): Row[] => {
    const rows: Row[] = [];
    const pairs = sql(
      `SELECT last_mid FROM pair_heads WHERE low_id = ? AND last_mid > ?
       UNION SELECT last_mid FROM pair_heads WHERE high_id = ? AND last_mid > ?`,
    ).all(userId, upto, userId, upto);
    for (const pair of pairs) {
      rows.push(
        ...chainAbove(Number(pair.last_mid), upto, limit, (row) => Number(row.to_id) === userId),
      );
    }
    const groups = sql(
      `SELECT h.last_mid FROM group_members m JOIN group_heads h ON h.group_id = m.group_id
       WHERE m.user_id = ? AND h.last_mid > ?`,
    ).all(userId, upto);
    for (const group of groups) {
      rows.push(
        ...chainAbove(
          Number(group.last_mid),
          upto,
          limit,
          (row) => Number(row.sender_id) !== userId,
        ),
      );
    }
    return rows.sort((a, b) => Number(b.mid) - Number(a.mid)).slice(0, limit);
  };

  /**
   * Up to `limit` messages that `wanted` picks, walking a conversation's chain from its newest
   * message `head` down to above `upto`.
   */
  const chainAbove = (
    head: number,
    upto: number,
    limit: number,
    wanted: (row: Row) => boolean,
  ): Row[] => {
    const rows: Row[] = [];
    let next: number | null = head;
    while (next !== null && next > upto && rows.length < limit) {
      const row: Row | undefined = sql(
        `SELECT ${MESSAGE_COLUMNS}, prev_mid FROM messages WHERE mid = ?`,
      )
        .get(next);
      if (row === undefined) break;
      if (wanted(row)) rows.push(row);
      next = row.prev_mid === null ? null : Number(row.prev_mid);
    }
    return rows;
  };

  return {
    open: (userId, owner, limit) =>
      run(() =>
        tx(() => {
          const cursor = sql("SELECT upto, owner FROM delivery_cursors WHERE user_id = ?")
            .get(userId);
          const { newest } = sql("SELECT coalesce(max(mid), 0) AS newest FROM messages").get()!;
          if (cursor === undefined || cursor.owner === null) {
            sql(
              `INSERT INTO delivery_cursors (user_id, upto, owner) VALUES (?, ?, ?)
               ON CONFLICT (user_id) DO UPDATE SET upto = max(upto, excluded.upto),
                 owner = excluded.owner`,
            ).run(userId, Number(newest), owner);
            return { newest: Number(newest), unconfirmed: [] };
          }
          const unconfirmed = above(userId, Number(cursor.upto), limit).reverse().map(toMessage);
          sql("UPDATE delivery_cursors SET owner = ? WHERE user_id = ?").run(owner, userId);
          return { newest: Number(newest), unconfirmed };
        })
      ),
    // Marks and closings share the turn's transaction with appends and acknowledgements.
    advance: (marks) =>
      marks.length === 0 ? Promise.resolve() : runBatched(batch, () => {
        for (const { userId, owner, upto } of marks) {
          sql(
            "UPDATE delivery_cursors SET upto = max(upto, ?) WHERE user_id = ? AND owner = ?",
          ).run(upto, userId, owner);
        }
      }),
    close: ({ userId, owner, upto }) =>
      runBatched(batch, () => {
        sql(
          `UPDATE delivery_cursors SET upto = max(upto, ?), owner = NULL
           WHERE user_id = ? AND owner = ?`,
        ).run(upto, userId, owner);
      }),
  };
}
