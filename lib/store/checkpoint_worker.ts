// The worker thread behind lib/store/checkpointer.ts: on a connection of its own to the SQLite
// file, it copies the write-ahead log back into the database every 100 ms or so, so the
// event loop's commits never pay for it. It only ever runs PASSIVE checkpoints, which take no
// lock the server's writes wait for: a FULL, RESTART or TRUNCATE one holds the writer lock while
// it waits for readers and syncs, and the server's BEGIN IMMEDIATE waited behind it (up to its
// 5 s busy timeout; 0.2-0.8 s measured under sustained writes). The log is not emptied here: the
// server's next write transaction after a checkpoint that caught up starts the log over from
// its beginning, and `journal_size_limit` trims the file then (lib/store/checkpointer.ts).

/// <reference lib="deno.worker" />

import { DatabaseSync } from "node:sqlite";
import type { CheckpointReply, CheckpointRequest } from "./checkpointer.ts";
import { messageOf } from "./sqlite_support.ts";

let db: DatabaseSync | null = null;
let timer: ReturnType<typeof setInterval> | undefined;

function reply(message: CheckpointReply): void {
  self.postMessage(message);
}

/** Passes in one tick while the log grows faster than a pass copies it. */
const PASSES_PER_TICK = 4;

function start(path: string, everyMs: number): void {
  db = new DatabaseSync(path);
  // A passive checkpoint never waits on the writer; it must not wait on anything else either.
  db.exec("PRAGMA busy_timeout = 0;");
  const passive = db.prepare("PRAGMA wal_checkpoint(PASSIVE)");
  timer = setInterval(() => {
    try {
      for (let pass = 0; pass < PASSES_PER_TICK; pass++) {
        const { log, checkpointed } = passive.get() as { log: number; checkpointed: number };
        if (checkpointed >= log) break;
      }
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
      start(request.path, request.everyMs);
    } catch (error) {
      stop();
      reply({ kind: "failed", message: messageOf(error) });
    }
  } else {
    stop();
    reply({ kind: "stopped" });
  }
};
