// The MySQL/MariaDB schema as a string, so a server built with `deno compile` needs no file
// beside it. It must stay identical to schema.sql, which people apply by hand;
// tests/schema_sync_test.ts fails when the two differ.

export const MYSQL_SCHEMA =
  `-- Chat server schema for MariaDB 10.3+ and MySQL 5.7+ (tested on MariaDB 10.11). Apply it to
-- an existing database:
--   mysql chat < schema.sql
-- The server applies the same text by itself (lib/store/mysql_schema.ts, kept identical by
-- tests/schema_sync_test.ts) when it finds the tables missing. Every statement is idempotent.
--
-- Table names follow the reference C++ project. Differences from it: passwords are stored only
-- as salted hashes; there is no User.state column (presence lives in the cluster, so a crashed
-- server cannot leave anyone stuck "online"); messages live in a log (Message) with a
-- cluster-unique id, mid, and OfflineMessage is a per-recipient list of mids not yet
-- acknowledged, so a delivery is repeated until the client confirms it and history can be read
-- back; every lookup the server does has an index.
--
-- Character set and collation: utf8mb4 everywhere, so any language and emoji round-trip.
-- Text is compared with utf8mb4_bin, i.e. by code point, as the SQLite store does: "Alice" and
-- "alice" are different names. utf8mb4_unicode_ci was rejected because it weighs every
-- character outside the Basic Multilingual Plane the same, so "张三 🐉" and "张三 🐶" would
-- count as one name. Like every PAD SPACE collation, utf8mb4_bin ignores trailing spaces when
-- comparing, so "bob" and "bob " are the same name.
--
-- created_at columns are informational only (in the database server's time zone); a
-- message's protocol "time" is Message.time, set by the server that accepted it (UTC).

-- Registered users. name is unique (1-50 characters, counted in code points).
CREATE TABLE IF NOT EXISTS User (
  id INT NOT NULL AUTO_INCREMENT,
  name VARCHAR(50) NOT NULL,
  password_hash VARCHAR(255) NOT NULL,
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (id),
  UNIQUE KEY user_by_name (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Friendships, stored in both directions (a row for A -> B and one for B -> A), so listing a
-- user's friends reads one primary-key range.
CREATE TABLE IF NOT EXISTS Friend (
  userid INT NOT NULL,
  friendid INT NOT NULL,
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (userid, friendid),
  KEY friend_by_friendid (friendid),
  CONSTRAINT friend_user FOREIGN KEY (userid) REFERENCES User (id),
  CONSTRAINT friend_friend FOREIGN KEY (friendid) REFERENCES User (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Groups. groupname is unique (1-50 characters); groupdesc is up to 200 characters.
CREATE TABLE IF NOT EXISTS AllGroup (
  id INT NOT NULL AUTO_INCREMENT,
  groupname VARCHAR(50) NOT NULL,
  groupdesc VARCHAR(200) NOT NULL DEFAULT '',
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (id),
  UNIQUE KEY group_by_name (groupname)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Group membership. The creator has grouprole 'creator', everyone who joins later 'normal'.
-- When the creator leaves, the member who joined earliest (joined_at, then the lower userid)
-- becomes creator; a group whose last member left is kept, and whoever joins it next is its
-- creator. The primary key serves "members of a group"; group_user_by_userid serves "groups of
-- a user".
CREATE TABLE IF NOT EXISTS GroupUser (
  groupid INT NOT NULL,
  userid INT NOT NULL,
  grouprole ENUM('creator', 'normal') NOT NULL DEFAULT 'normal',
  joined_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (groupid, userid),
  KEY group_user_by_userid (userid, groupid),
  CONSTRAINT group_user_group FOREIGN KEY (groupid) REFERENCES AllGroup (id),
  CONSTRAINT group_user_user FOREIGN KEY (userid) REFERENCES User (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- The message log: every one-to-one (toid set) and group (groupid set) message, kept for
-- history. mid is the message id of the protocol: unique in the cluster, increasing over time.
-- msg is MEDIUMTEXT (up to 16 MiB): a 4096-character message of 4-byte characters alone is
-- 16 KiB, and TEXT stops at 64 KiB. time is the ISO-8601 UTC time the protocol shows.
-- clientkey is the sender's optional idempotency key: a retried request with the same key is
-- stored once (NULLs do not clash in a UNIQUE key).
CREATE TABLE IF NOT EXISTS Message (
  mid BIGINT NOT NULL AUTO_INCREMENT,
  senderid INT NOT NULL,
  sendername VARCHAR(50) NOT NULL,
  toid INT NULL,
  groupid INT NULL,
  msg MEDIUMTEXT NOT NULL,
  time CHAR(24) NOT NULL,
  clientkey VARCHAR(64) NULL,
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (mid),
  UNIQUE KEY message_by_key (senderid, clientkey),
  KEY message_by_pair (senderid, toid, mid),
  KEY message_by_group (groupid, mid),
  CONSTRAINT message_sender FOREIGN KEY (senderid) REFERENCES User (id),
  CONSTRAINT message_recipient FOREIGN KEY (toid) REFERENCES User (id),
  CONSTRAINT message_group FOREIGN KEY (groupid) REFERENCES AllGroup (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Deliveries not yet acknowledged: one row per recipient and message, read oldest first and
-- removed when the recipient's client acknowledges the mid (not when it is sent, so a
-- connection lost in between loses nothing).
CREATE TABLE IF NOT EXISTS OfflineMessage (
  userid INT NOT NULL,
  mid BIGINT NOT NULL,
  PRIMARY KEY (userid, mid),
  KEY offline_message_by_mid (mid),
  CONSTRAINT offline_message_user FOREIGN KEY (userid) REFERENCES User (id),
  CONSTRAINT offline_message_message FOREIGN KEY (mid) REFERENCES Message (mid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Per-user counters. pending counts the deliveries added since the user's OfflineMessage rows
-- were last counted (acknowledging does not touch it); when it passes the pending cap
-- (--pending-cap) the rows are counted and the oldest beyond the cap dropped. dropped counts
-- deliveries the cap discarded since the user was last told.
CREATE TABLE IF NOT EXISTS Mailbox (
  userid INT NOT NULL,
  pending INT NOT NULL DEFAULT 0,
  dropped INT NOT NULL DEFAULT 0,
  PRIMARY KEY (userid),
  CONSTRAINT mailbox_user FOREIGN KEY (userid) REFERENCES User (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Session tokens: a client logs in with its password once and with a token afterwards. Only the
-- SHA-256 of each token is kept (tokenhash, hex), so a copy of the database logs nobody in.
-- lastused is when it last logged in (ms since the epoch, by the chat server's clock); a token
-- unused for --token-ttl is expired. Logout deletes a token; a password change all of a user's.
CREATE TABLE IF NOT EXISTS SessionToken (
  tokenhash CHAR(64) NOT NULL,
  userid INT NOT NULL,
  lastused BIGINT NOT NULL,
  PRIMARY KEY (tokenhash),
  KEY session_token_by_user (userid, lastused),
  CONSTRAINT session_token_user FOREIGN KEY (userid) REFERENCES User (id)
) ENGINE=InnoDB DEFAULT CHARSET=ascii COLLATE=ascii_bin;

-- Delivery cursors of receipts sessions (clients that acknowledge every push): a message pushed
-- directly to such a session gets no OfflineMessage row. Instead, while the session holds its
-- user's cursor open (owner names the session; NULL when closed), every message for the user
-- with a mid above upto counts as not yet acknowledged; upto moves up as acknowledgements come
-- in. A server that stops without closing a cursor loses nothing: the next login reads the
-- messages above upto (one-to-one ones through the index InnoDB made for message_recipient,
-- group ones through message_by_group).
CREATE TABLE IF NOT EXISTS DeliveryCursor (
  userid INT NOT NULL,
  upto BIGINT NOT NULL,
  owner BIGINT NULL,
  PRIMARY KEY (userid),
  CONSTRAINT delivery_cursor_user FOREIGN KEY (userid) REFERENCES User (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
`;
