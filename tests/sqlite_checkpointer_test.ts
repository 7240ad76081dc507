// The SQLite checkpointer thread: the server's connection never checkpoints, the worker copies
// the write-ahead log back into the database file while the store is open, and if the worker
// fails the connection goes back to checkpointing itself.

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { Checkpointer } from "../lib/store/checkpointer.ts";
import { openSqliteStore } from "../lib/store/sqlite.ts";

async function eventually(check: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

Deno.test("sqlite checkpointer: the log is copied into the database file while the store is open", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/chat.db`;
  const store = openSqliteStore(path);
  try {
    const id = await store.users.create("writer", "h");
    const sizeBefore = Deno.statSync(path).size;
    // About 200 pages of messages: far below SQLite's own threshold of 1,000 pages, so only the
    // checkpointer thread copies them into the file before the store closes.
    for (let batch = 0; batch < 20; batch++) {
      await Promise.all(Array.from({ length: 50 }, (_, k) =>
        store.messages.append({
          senderId: id,
          senderName: "writer",
          toId: id,
          groupId: null,
          msg: `message ${batch}-${k} `.padEnd(600, "x"),
          time: "2026-01-02T03:04:05.678Z",
          key: null,
          recipients: [],
        })));
    }
    await eventually(
      () => Deno.statSync(path).size > sizeBefore + 400 * 1024,
      "the database file holds the messages",
    );
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sqlite checkpointer: when the worker fails, the connection checkpoints itself again", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/chat.db`;
  const db = new DatabaseSync(path);
  db.exec("PRAGMA journal_mode = WAL");
  const failures: string[] = [];
  const checkpointer = new Checkpointer(
    db,
    path,
    (message) => failures.push(message),
    new URL("./support/failing_worker.ts", import.meta.url),
  );
  try {
    assert.equal(db.prepare("PRAGMA wal_autocheckpoint").get()?.wal_autocheckpoint, 0);
    await eventually(() => failures.length > 0, "the failure is reported");
    assert.match(failures[0], /cannot open the database/);
    assert.equal(db.prepare("PRAGMA wal_autocheckpoint").get()?.wal_autocheckpoint, 1000);
  } finally {
    await checkpointer.stop();
    db.close();
    await Deno.remove(dir, { recursive: true });
  }
});
