// Opens the store a --db URL names: the embedded SQLite file by default, or MySQL.

import type { Logger } from "../log.ts";
import type { Repositories } from "./types.ts";
import { openSqliteStore } from "./sqlite.ts";

export async function openStore(
  url: string,
  pendingCap: number,
  log?: Logger,
): Promise<Repositories> {
  if (url.startsWith("mysql://")) {
    const { openMysqlStore } = await import("./mysql.ts");
    return await openMysqlStore(url, pendingCap);
  }
  return openSqliteStore(
    url.slice("sqlite:".length),
    pendingCap,
    (event, fields) => log?.warn(event, fields),
  );
}
