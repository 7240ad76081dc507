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

Deno.test("sqlite checkpointer: the worker never holds up the server's writes, even with a large log and a reader pinning it", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/chat.db`;
  const db = new DatabaseSync(path);
  db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;");
  db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB)");
  const checkpointer = new Checkpointer(db, path, (message) => {
    throw new Error(`checkpointer failed: ${message}`);
  });
  const reader = new DatabaseSync(path);
  try {
    // A log of more than 12,000 pages: a checkpoint that empties the log (as the worker once did
    // above 10,000 pages) would wait for the reader below while holding the writer lock.
    const insert = db.prepare("INSERT INTO t (body) VALUES (?)");
    const body = new Uint8Array(4000);
    for (let batch = 0; batch < 25; batch++) {
      db.exec("BEGIN IMMEDIATE");
      for (let row = 0; row < 500; row++) insert.run(body);
      db.exec("COMMIT");
    }
    reader.exec("BEGIN");
    reader.prepare("SELECT count(*) FROM t").get();
    // The server's connection must never find the database busy: with no busy timeout, a
    // BEGIN IMMEDIATE behind a checkpoint holding the writer lock fails at once.
    db.exec("PRAGMA busy_timeout = 0");
    for (let attempt = 0; attempt < 50; attempt++) {
      db.exec("BEGIN IMMEDIATE");
      insert.run(body);
      db.exec("COMMIT");
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    reader.exec("COMMIT");
  } finally {
    reader.close();
    await checkpointer.stop();
    db.close();
    await Deno.remove(dir, { recursive: true });
  }
});
