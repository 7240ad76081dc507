// Test fixtures on MySQL/MariaDB: a fresh database per test (dropped afterwards), filled with
// users whose passwords are hashed cheaply so hundreds of logins cost little, and their groups.

import mysql from "mysql2/promise";
import { hashPassword } from "../../lib/password.ts";
import { openMysqlStore } from "../../lib/store/mysql.ts";

export const MYSQL_HOST = "127.0.0.1";
export const MYSQL_PORT = 3306;
export const PASSWORD = "pw";
const CHEAP_SCRYPT = { N: 1024, r: 8, p: 1 };

export interface FreshDatabase {
  name: string;
  /** The database's URL, reached at `port` (a relay, say) instead of MySQL's own port. */
  url(port?: number): string;
  drop(): Promise<void>;
}

export function freshDatabase(prefix: string): FreshDatabase {
  const name = `${prefix}_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
  return {
    name,
    url: (port = MYSQL_PORT) => `mysql://root@${MYSQL_HOST}:${port}/${name}`,
    async drop() {
      const connection = await mysql.createConnection({
        host: MYSQL_HOST,
        port: MYSQL_PORT,
        user: "root",
      });
      try {
        await connection.query(`DROP DATABASE IF EXISTS \`${name}\``);
      } finally {
        await connection.end();
      }
    },
  };
}

export interface SeededGroup {
  id: number;
  members: number[];
}

export interface Seeded {
  userIds: number[];
  groups: SeededGroup[];
}

/**
 * Creates the schema, `users` users (password PASSWORD) and groups of `groupSize` consecutive
 * users each (the first is the creator); a last group smaller than 2 is left out.
 */
export async function seedChat(url: string, users: number, groupSize: number): Promise<Seeded> {
  const store = await openMysqlStore(url);
  try {
    const hash = await hashPassword(PASSWORD, CHEAP_SCRYPT);
    const userIds: number[] = [];
    for (let i = 0; i < users; i++) userIds.push(await store.users.create(`user${i}`, hash));
    const groups: SeededGroup[] = [];
    for (let start = 0; start + 1 < users; start += groupSize) {
      const members = userIds.slice(start, start + groupSize);
      if (members.length < 2) break;
      const id = await store.groups.create(members[0], `group${start}`, "");
      for (const member of members.slice(1)) await store.groups.join(id, member);
      groups.push({ id, members });
    }
    return { userIds, groups };
  } finally {
    await store.close();
  }
}
