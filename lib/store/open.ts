// Opens the store a --db URL names: the embedded SQLite file by default, or MySQL.

import type { Repositories } from "./types.ts";
import { openSqliteStore } from "./sqlite.ts";

export async function openStore(url: string, pendingCap: number): Promise<Repositories> {
  if (url.startsWith("mysql://")) {
    const { openMysqlStore } = await import("./mysql.ts");
    return await openMysqlStore(url, pendingCap);
  }
  return openSqliteStore(url.slice("sqlite:".length), pendingCap);
}
