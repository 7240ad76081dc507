// The worker thread behind lib/store/checkpointer.ts: on a connection of its own to the SQLite
// file, it copies the write-ahead log back into the database every 100 ms or so, so the
// event loop's commits never pay for it. A passive checkpoint never blocks the server's writes;
// only when the log has grown past a limit (writes kept coming while it copied) is it emptied
// with a TRUNCATE checkpoint, which waits for the writer between two of its transactions.

/// <reference lib="deno.worker" />

import { DatabaseSync } from "node:sqlite";
import type { CheckpointReply, CheckpointRequest } from "./checkpointer.ts";
import { messageOf } from "./sqlite_support.ts";

let db: DatabaseSync | null = null;
let timer: ReturnType<typeof setInterval> | undefined;

function reply(message: CheckpointReply): void {
  self.postMessage(message);
}

function start(path: string, everyMs: number, truncateAbovePages: number): void {
  db = new DatabaseSync(path);
  db.exec("PRAGMA busy_timeout = 5000;");
  const passive = db.prepare("PRAGMA wal_checkpoint(PASSIVE)");
  const truncate = db.prepare("PRAGMA wal_checkpoint(TRUNCATE)");
  timer = setInterval(() => {
    try {
      const { log } = passive.get() as { log: number };
      if (log > truncateAbovePages) truncate.get();
    } catch (error) {
      stop();
      reply({ kind: "failed", message: messageOf(error) });
    }
  }, everyMs);
}

function stop(): void {
  clearInterval(timer);
  db?.close();
  db = null;
}

self.onmessage = (event: MessageEvent<CheckpointRequest>) => {
  const request = event.data;
  if (request.kind === "start") {
    try {
      start(request.path, request.everyMs, request.truncateAbovePages);
    } catch (error) {
      stop();
      reply({ kind: "failed", message: messageOf(error) });
    }
  } else {
    stop();
    reply({ kind: "stopped" });
  }
};
