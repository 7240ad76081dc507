// Session tokens on MySQL/MariaDB (table SessionToken): only each token's SHA-256 is stored,
// with its user and when it was last used (ms since the epoch, by the chat server's clock).

import type { Pool } from "mysql2/promise";
import { modify, placeholders, run, select } from "./mysql_support.ts";
import type { TokenRepository } from "./types.ts";

export function mysqlTokens(pool: Pool): TokenRepository {
  return {
    // No transaction and no range delete: a DELETE over the (userid, lastused) range takes gap
    // locks that deadlock with other users' inserts when many log in at once. The insert is one
    // row; forgetting the user's stale tokens is by primary key, and harmless to repeat or miss.
    add: (userId, tokenHash, now, expiredAt, keep) =>
      run(async () => {
        await modify(
          pool,
          "INSERT INTO SessionToken (tokenhash, userid, lastused) VALUES (?, ?, ?)",
          [tokenHash, userId, now],
        );
        const rows = await select(
          pool,
          "SELECT tokenhash, lastused FROM SessionToken WHERE userid = ? ORDER BY lastused DESC",
          [userId],
        );
        const stale = rows
          .filter((row, index) => index >= keep || Number(row.lastused) <= expiredAt)
          .map((row) => String(row.tokenhash));
        if (stale.length > 0) {
          await modify(
            pool,
            `DELETE FROM SessionToken WHERE tokenhash IN (${placeholders(stale.length)})`,
            stale,
          );
        }
      }),
    use: (userId, tokenHash, now, expiredAt) =>
      run(async () => {
        const used = await modify(
          pool,
          `UPDATE SessionToken SET lastused = GREATEST(lastused, ?)
           WHERE tokenhash = ? AND userid = ? AND lastused > ?`,
          [now, tokenHash, userId, expiredAt],
        );
        // affectedRows counts matched rows here (mysql2 sets CLIENT_FOUND_ROWS by default).
        if (used.affectedRows === 1) return true;
        await modify(pool, "DELETE FROM SessionToken WHERE tokenhash = ? AND lastused <= ?", [
          tokenHash,
          expiredAt,
        ]);
        return false;
      }),
    revoke: (tokenHash) =>
      run(async () => {
        await modify(pool, "DELETE FROM SessionToken WHERE tokenhash = ?", [tokenHash]);
      }),
  };
}
