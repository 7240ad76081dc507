// Session tokens on SQLite: one row per token, keyed by its SHA-256 hash (the token itself is
// never stored), with its user and when it was last used (ms since the epoch).

import { type Prepare, run, type Transaction } from "./sqlite_support.ts";
import type { TokenRepository } from "./types.ts";

export const TOKEN_SCHEMA = `
CREATE TABLE IF NOT EXISTS session_tokens (
  token_hash TEXT PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users(id),
  last_used INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS session_tokens_by_user ON session_tokens (user_id, last_used);
`;

export function sqliteTokens(sql: Prepare, tx: Transaction): TokenRepository {
  return {
    add: (userId, tokenHash, now, expiredAt, keep) =>
      run(() =>
        tx(() => {
          sql("DELETE FROM session_tokens WHERE user_id = ? AND last_used <= ?").run(
            userId,
            expiredAt,
          );
          sql("INSERT INTO session_tokens (token_hash, user_id, last_used) VALUES (?, ?, ?)")
            .run(tokenHash, userId, now);
          sql(
            `DELETE FROM session_tokens WHERE user_id = ? AND token_hash NOT IN (
               SELECT token_hash FROM session_tokens WHERE user_id = ?
               ORDER BY last_used DESC LIMIT ?)`,
          ).run(userId, userId, keep);
        })
      ),
    use: (userId, tokenHash, now, expiredAt) =>
      run(() => {
        const used = sql(
          `UPDATE session_tokens SET last_used = max(last_used, ?)
           WHERE token_hash = ? AND user_id = ? AND last_used > ?`,
        ).run(now, tokenHash, userId, expiredAt);
        if (Number(used.changes) === 1) return true;
        sql("DELETE FROM session_tokens WHERE token_hash = ? AND last_used <= ?").run(
          tokenHash,
          expiredAt,
        );
        return false;
      }),
    revoke: (tokenHash) =>
      run(() => void sql("DELETE FROM session_tokens WHERE token_hash = ?").run(tokenHash)),
  };
}
