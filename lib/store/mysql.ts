// MySQL/MariaDB store: the Repositories interface on a mysql2 connection pool, for a cluster
// whose servers share one database. Opening it creates the database and the tables of
// schema.sql when they are missing.

import mysql from "mysql2/promise";
import type { Connection, Pool, PoolConnection, RowDataPacket } from "mysql2/promise";
import { StorageError } from "../errors.ts";
import type { ServerFeatures } from "./mysql_append.ts";
import { mysqlCursors } from "./mysql_cursors.ts";
import { mysqlMessages } from "./mysql_messages.ts";
import { MYSQL_SCHEMA } from "./mysql_schema.ts";
import { mysqlTokens } from "./mysql_tokens.ts";
import {
  describeError,
  inTransaction,
  modify,
  placeholders,
  run,
  select,
} from "./mysql_support.ts";
import type { GroupRole } from "../protocol.ts";
import { groupRows, toMember } from "./sqlite.ts";
import {
  DEFAULT_PENDING_CAP,
  type FriendRepository,
  type GroupRecord,
  type GroupRepository,
  type Repositories,
  type UserRecord,
  type UserRepository,
  type UserSummary,
} from "./types.ts";

/** Where a MySQL store lives, as read from `mysql://user:pass@host:port/db`. */
export interface MysqlLocation {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

const DEFAULT_PORT = 3306;
const POOL_SIZE = 20;
const DATABASE_NAME = /^[A-Za-z0-9_]+$/;
const SCHEMA_TABLES = [...MYSQL_SCHEMA.matchAll(/CREATE TABLE IF NOT EXISTS (\w+)/g)]
  .map((match) => match[1]);

/**
 * Opens a store on the database named in `url` (`mysql://user:pass@host:port/db`, the port
 * defaults to 3306), creating the database and its tables when missing. Throws a StorageError
 * when MySQL cannot be reached or prepared, a TypeError when the URL is unusable. Each user
 * keeps at most `pendingCap` unacknowledged deliveries.
 */
export async function openMysqlStore(
  url: string,
  pendingCap: number = DEFAULT_PENDING_CAP,
  /** Features to do without even if the server has them (tests of the other code path). */
  without: Partial<ServerFeatures> = {},
): Promise<Repositories> {
  const location = parseMysqlUrl(url);
  const offered = await prepareDatabase(location);
  const server = { insertReturning: offered.insertReturning && !without.insertReturning };
  const pool = mysql.createPool({
    host: location.host,
    port: location.port,
    user: location.user,
    password: location.password,
    database: location.database,
    charset: "utf8mb4",
    connectionLimit: POOL_SIZE,
  });
  let closing: Promise<void> | undefined;
  return {
    description: describeMysqlLocation(location),
    users: userRepository(pool),
    friends: friendRepository(pool),
    groups: groupRepository(pool),
    messages: mysqlMessages(pool, pendingCap, server),
    tokens: mysqlTokens(pool),
    cursors: mysqlCursors(pool),
    ping: () => pool.execute("SELECT 1").then(() => true, () => false),
    close: () => closing ??= pool.end(),
  };
}

/** Reads a `mysql://user:pass@host:port/db` URL; user and password may be percent-encoded. */
export function parseMysqlUrl(url: string): MysqlLocation {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TypeError("Cannot use MySQL URL: expected mysql://user:pass@host:port/db");
  }
  if (parsed.protocol !== "mysql:") {
    throw new TypeError(`Cannot use MySQL URL: scheme is ${parsed.protocol}, expected mysql:`);
  }
  const database = decodeURIComponent(parsed.pathname.slice(1));
  if (!DATABASE_NAME.test(database)) {
    throw new TypeError(
      `Cannot use MySQL URL: database name "${database}" must be letters, digits and _ only`,
    );
  }
  return {
    host: parsed.hostname.replace(/^\[(.*)\]$/, "$1") || "localhost",
    port: parsed.port ? Number(parsed.port) : DEFAULT_PORT,
    user: decodeURIComponent(parsed.username),
    password: decodeURIComponent(parsed.password),
    database,
  };
}

/** The location as a URL without the password, fit for logs. */
export function describeMysqlLocation(location: MysqlLocation): string {
  const user = location.user ? `${encodeURIComponent(location.user)}@` : "";
  return `mysql://${user}${hostAndPort(location)}/${location.database}`;
}

function hostAndPort({ host, port }: MysqlLocation): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Creates the database and the tables when missing, on a connection of its own. */
/** Creates what is missing and says what the server can do. */
async function prepareDatabase(location: MysqlLocation): Promise<ServerFeatures> {
  const connection = await connectForSetup(location);
  try {
    await ensureDatabase(connection, location.database);
    await ensureTables(connection, location.database);
    const [[{ version }]] = await connection.query<RowDataPacket[]>("SELECT VERSION() AS version");
    return { insertReturning: insertReturningIn(String(version)) };
  } catch (error) {
    throw new StorageError(
      `cannot prepare MySQL database ${location.database}: ${describeError(error)}`,
      { cause: error },
    );
  } finally {
    await connection.end().catch(() => connection.destroy());
  }
}

/** MariaDB has INSERT ... RETURNING from 10.5 on; MySQL does not have it. */
export function insertReturningIn(version: string): boolean {
  const match = /^(\d+)\.(\d+)\..*mariadb/i.exec(version);
  return match !== null && Number(match[1]) * 1000 + Number(match[2]) >= 10_005;
}

async function connectForSetup(location: MysqlLocation): Promise<Connection> {
  try {
    return await mysql.createConnection({
      host: location.host,
      port: location.port,
      user: location.user,
      password: location.password,
      charset: "utf8mb4",
      // Only this short-lived connection runs several statements at once: the schema.
      multipleStatements: true,
    });
  } catch (error) {
    throw new StorageError(
      `cannot connect to MySQL at ${hostAndPort(location)}: ${describeError(error)}`,
      { cause: error },
    );
  }
}

// DDL cannot take parameters; `database` passed the DATABASE_NAME check in parseMysqlUrl.
async function ensureDatabase(connection: Connection, database: string): Promise<void> {
  const [found] = await connection.execute<RowDataPacket[]>(
    "SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?",
    [database],
  );
  if (found.length === 0) {
    await connection.query(
      `CREATE DATABASE IF NOT EXISTS \`${database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`,
    );
  }
  await connection.query(`USE \`${database}\``);
}

async function ensureTables(connection: Connection, database: string): Promise<void> {
  const [found] = await connection.execute<RowDataPacket[]>(
    `SELECT TABLE_NAME FROM information_schema.TABLES
     WHERE TABLE_SCHEMA = ? AND TABLE_NAME IN (${placeholders(SCHEMA_TABLES.length)})`,
    [database, ...SCHEMA_TABLES],
  );
  if (found.length < SCHEMA_TABLES.length) await connection.query(MYSQL_SCHEMA);
}

function userRepository(pool: Pool): UserRepository {
  return {
    create: (name, passwordHash) =>
      run(async () => {
        const sql = "INSERT INTO User (name, password_hash) VALUES (?, ?)";
        return (await modify(pool, sql, [name, passwordHash])).insertId;
      }, "name is already taken"),
    findById: (id) =>
      run(async () => {
        const sql = "SELECT id, name, password_hash FROM User WHERE id = ?";
        return toUser(await select(pool, sql, [id]));
      }),
    findByName: (name) =>
      run(async () => {
        const sql = "SELECT id, name, password_hash FROM User WHERE name = ?";
        return toUser(await select(pool, sql, [name]));
      }),
    changePassword: (id, passwordHash) =>
      run(() =>
        inTransaction(pool, async (connection) => {
          await modify(connection, "UPDATE User SET password_hash = ? WHERE id = ?", [
            passwordHash,
            id,
          ]);
          await modify(connection, "DELETE FROM SessionToken WHERE userid = ?", [id]);
        })
      ),
  };
}

function friendRepository(pool: Pool): FriendRepository {
  return {
    add: (a, b) =>
      run(() =>
        inTransaction(pool, async (connection) => {
          const sql = "INSERT INTO Friend (userid, friendid) VALUES (?, ?)";
          await modify(connection, sql, [a, b]);
          await modify(connection, sql, [b, a]);
        }), "already friends"),
    remove: (a, b) =>
      run(async () => {
        const sql = `DELETE FROM Friend
                     WHERE (userid = ? AND friendid = ?) OR (userid = ? AND friendid = ?)`;
        return (await modify(pool, sql, [a, b, b, a])).affectedRows > 0;
      }),
    list: (userId) =>
      run(async () => {
        const sql = `SELECT u.id, u.name FROM Friend f JOIN User u ON u.id = f.friendid
                     WHERE f.userid = ? ORDER BY u.id`;
        return (await select(pool, sql, [userId])).map(toSummary);
      }),
  };
}

function groupRepository(pool: Pool): GroupRepository {
  return {
    create: (creatorId, groupname, groupdesc) =>
      run(() =>
        inTransaction(pool, async (connection) => {
          const group = await modify(
            connection,
            "INSERT INTO AllGroup (groupname, groupdesc) VALUES (?, ?)",
            [groupname, groupdesc],
          );
          await modify(
            connection,
            "INSERT INTO GroupUser (groupid, userid, grouprole) VALUES (?, ?, 'creator')",
            [group.insertId, creatorId],
          );
          return group.insertId;
        }), "group name is already taken"),
    findById: (groupId) =>
      run(async () => {
        const sql = "SELECT id, groupname, groupdesc FROM AllGroup WHERE id = ?";
        return toGroup(await select(pool, sql, [groupId]));
      }),
    join: (groupId, userId) =>
      run(() =>
        inTransaction(pool, async (connection) => {
          await lockGroup(connection, groupId);
          const anyone = "SELECT 1 FROM GroupUser WHERE groupid = ? LIMIT 1";
          const role: GroupRole = (await select(connection, anyone, [groupId])).length === 0
            ? "creator"
            : "normal";
          const sql = "INSERT INTO GroupUser (groupid, userid, grouprole) VALUES (?, ?, ?)";
          await modify(connection, sql, [groupId, userId, role]);
          return role;
        }), "already a member of this group"),
    leave: (groupId, userId) =>
      run(() =>
        inTransaction(pool, async (connection) => {
          await lockGroup(connection, groupId);
          const [member] = await select(
            connection,
            "SELECT grouprole FROM GroupUser WHERE groupid = ? AND userid = ?",
            [groupId, userId],
          );
          if (!member) return null;
          await modify(connection, "DELETE FROM GroupUser WHERE groupid = ? AND userid = ?", [
            groupId,
            userId,
          ]);
          if (member.grouprole !== "creator") return { newCreator: null };
          const [earliest] = await select(
            connection,
            `SELECT userid FROM GroupUser WHERE groupid = ?
             ORDER BY joined_at, userid LIMIT 1`,
            [groupId],
          );
          if (!earliest) return { newCreator: null };
          const newCreator = Number(earliest.userid);
          await modify(
            connection,
            "UPDATE GroupUser SET grouprole = 'creator' WHERE groupid = ? AND userid = ?",
            [groupId, newCreator],
          );
          return { newCreator };
        })
      ),
    isMember: (groupId, userId) =>
      run(async () => {
        const sql = "SELECT 1 FROM GroupUser WHERE groupid = ? AND userid = ?";
        return (await select(pool, sql, [groupId, userId])).length > 0;
      }),
    memberIds: (groupId) =>
      run(async () => {
        const sql = "SELECT userid FROM GroupUser WHERE groupid = ? ORDER BY userid";
        return (await select(pool, sql, [groupId])).map((row) => Number(row.userid));
      }),
    members: (groupId) =>
      run(async () => {
        const sql = `SELECT u.id AS user_id, u.name, m.grouprole AS role
                     FROM GroupUser m JOIN User u ON u.id = m.userid
                     WHERE m.groupid = ? ORDER BY u.id`;
        return (await select(pool, sql, [groupId])).map(toMember);
      }),
    listForUser: (userId) =>
      run(async () => {
        const sql = `SELECT g.id AS group_id, g.groupname, g.groupdesc, u.id AS user_id, u.name,
                            m.grouprole AS role
                     FROM GroupUser mine
                     JOIN AllGroup g ON g.id = mine.groupid
                     JOIN GroupUser m ON m.groupid = g.id
                     JOIN User u ON u.id = m.userid
                     WHERE mine.userid = ?
                     ORDER BY g.id, u.id`;
        return groupRows(await select(pool, sql, [userId]));
      }),
  };
}

/**
 * Locks the group's row until the transaction ends, so that the joins and leaves of one group
 * happen one at a time (who becomes creator depends on who else is a member).
 */
async function lockGroup(connection: PoolConnection, groupId: number): Promise<void> {
  await select(connection, "SELECT id FROM AllGroup WHERE id = ? FOR UPDATE", [groupId]);
}

function toUser([row]: RowDataPacket[]): UserRecord | null {
  if (!row) return null;
  return { id: Number(row.id), name: String(row.name), passwordHash: String(row.password_hash) };
}

function toSummary(row: RowDataPacket): UserSummary {
  return { id: Number(row.id), name: String(row.name) };
}

function toGroup([row]: RowDataPacket[]): GroupRecord | null {
  if (!row) return null;
  return { id: Number(row.id), groupname: String(row.groupname), groupdesc: String(row.groupdesc) };
}
