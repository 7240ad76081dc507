// Delivery cursors of receipts sessions on MySQL (the CursorRepository of types.ts): a
// DeliveryCursor row per user with the mid up to which everything for them is acknowledged or
// pending, and the session holding it open (owner NULL: closed).
//
// What is above a cursor left open is read by index ranges that stop after `limit` rows, never
// by a scan of the log (checked with EXPLAIN / ANALYZE on MariaDB 10.11, 200k messages):
// - one-to-one: `toid = ? AND mid > ? ORDER BY mid DESC LIMIT ?` is a backward range on the
//   index InnoDB made for the foreign key message_recipient, (toid) carrying the primary key
//   (mid): used_key_parts toid, mid; reads `limit` entries however far back the cursor is.
// - groups: one `groupid = ? AND mid > ?` subquery per group of the user, each a backward range
//   on message_by_group (groupid, mid) with its own LIMIT. A single join of GroupUser with
//   Message (or groupid IN (...)) let the optimizer choose a primary-key scan of every message
//   above the cursor, or read every entry of the user's groups above it before sorting.
//
// Marks arriving together are applied in one UPDATE (a CASE per mark), which can only move a
// cursor that is still open by the mark's owner, and only up: it never creates a row or changes
// an owner.

import type { Pool } from "mysql2/promise";
import { MESSAGE_COLUMNS, toMessage } from "./mysql_messages.ts";
import {
  batches,
  bigInteger,
  inTransaction,
  modify,
  type Queryable,
  rowCount,
  run,
  select,
  type SqlValue,
} from "./mysql_support.ts";
import { TurnQueue } from "./turn_queue.ts";
import type { CursorMark, CursorRepository, StoredMessage } from "./types.ts";

/** Mark batches in flight at once, and the most advance calls in one. */
const ADVANCES_IN_FLIGHT = 2;
const MAX_BATCH = 64;

export function mysqlCursors(pool: Pool): CursorRepository {
  const advances = new TurnQueue<readonly CursorMark[], void>(advanceAll, {
    maxInFlight: ADVANCES_IN_FLIGHT,
    maxBatch: MAX_BATCH,
  });

  /** Applies every mark of the batch, the highest one per user and owner. */
  async function advanceAll(
    calls: (readonly CursorMark[])[],
  ): Promise<PromiseSettledResult<void>[]> {
    const highest = new Map<string, CursorMark>();
    for (const mark of calls.flat()) {
      const key = `${mark.userId}:${mark.owner}`;
      if ((highest.get(key)?.upto ?? -Infinity) < mark.upto) highest.set(key, mark);
    }
    for (const batch of batches([...highest.values()])) {
      await modify(
        pool,
        `UPDATE DeliveryCursor SET upto = CASE
           ${batch.map(() => "WHEN userid = ? AND owner = ? THEN GREATEST(upto, ?)").join(" ")}
           ELSE upto END
         WHERE userid IN (${batch.map(() => "?").join(", ")})`,
        [
          ...batch.flatMap((mark) => [
            bigInteger(mark.userId),
            bigInteger(mark.owner),
            bigInteger(mark.upto),
          ]),
          ...batch.map((mark) => bigInteger(mark.userId)),
        ],
      );
    }
    return calls.map(() => ({ status: "fulfilled", value: undefined }));
  }

  return {
    open: (userId, owner, limit) =>
      run(async () => {
        // The row first, on its own: a locking read of a missing row takes a gap lock, and two
        // logins' gap locks around the same gap deadlock as soon as both insert.
        await modify(
          pool,
          "INSERT IGNORE INTO DeliveryCursor (userid, upto, owner) VALUES (?, 0, NULL)",
          [bigInteger(userId)],
        );
        return await inTransaction(pool, async (connection) => {
          const [cursor] = await select(
            connection,
            "SELECT upto, owner FROM DeliveryCursor WHERE userid = ? FOR UPDATE",
            [bigInteger(userId)],
          );
          const [{ newest }] = await select(
            connection,
            "SELECT COALESCE(MAX(mid), 0) AS newest FROM Message",
            [],
          );
          if (cursor.owner === null) {
            await modify(
              connection,
              "UPDATE DeliveryCursor SET upto = GREATEST(upto, ?), owner = ? WHERE userid = ?",
              [bigInteger(Number(newest)), bigInteger(owner), bigInteger(userId)],
            );
            return { newest: Number(newest), unconfirmed: [] };
          }
          const unconfirmed = await above(connection, userId, Number(cursor.upto), limit);
          await modify(connection, "UPDATE DeliveryCursor SET owner = ? WHERE userid = ?", [
            bigInteger(owner),
            bigInteger(userId),
          ]);
          return { newest: Number(newest), unconfirmed };
        });
      }),
    advance: (marks) => marks.length === 0 ? Promise.resolve() : run(() => advances.submit(marks)),
    close: ({ userId, owner, upto }) =>
      run(async () => {
        await modify(
          pool,
          `UPDATE DeliveryCursor SET upto = GREATEST(upto, ?), owner = NULL
           WHERE userid = ? AND owner = ?`,
          [bigInteger(upto), bigInteger(userId), bigInteger(owner)],
        );
      }),
  };
}

/** The newest `limit` messages for the user above `upto`, oldest first. */
async function above(
  db: Queryable,
  userId: number,
  upto: number,
  limit: number,
): Promise<StoredMessage[]> {
  const rows = await select(
    db,
    `SELECT ${MESSAGE_COLUMNS} FROM Message WHERE toid = ? AND mid > ?
     ORDER BY mid DESC LIMIT ?`,
    [bigInteger(userId), bigInteger(upto), rowCount(limit)],
  );
  const groups = await select(db, "SELECT groupid FROM GroupUser WHERE userid = ?", [
    bigInteger(userId),
  ]);
  for (const batch of batches(groups.map((group) => Number(group.groupid)))) {
    const perGroup = `(SELECT ${MESSAGE_COLUMNS} FROM Message
      WHERE groupid = ? AND mid > ? AND senderid <> ? ORDER BY mid DESC LIMIT ?)`;
    const values: SqlValue[] = batch.flatMap((groupId) => [
      bigInteger(groupId),
      bigInteger(upto),
      bigInteger(userId),
      rowCount(limit),
    ]);
    rows.push(...await select(db, batch.map(() => perGroup).join(" UNION ALL "), values));
  }
  return rows.sort((a, b) => Number(b.mid) - Number(a.mid)).slice(0, limit).reverse().map(
    toMessage,
  );
}
