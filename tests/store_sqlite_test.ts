// Runs the repository contract against the embedded SQLite store, in memory and on disk.

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { StorageError } from "../lib/errors.ts";
import { openSqliteStore } from "../lib/store/sqlite.ts";
import type { HistoryQuery } from "../lib/store/types.ts";
import { storeContract } from "./store_contract.ts";

storeContract("sqlite (memory)", (cap) => Promise.resolve(openSqliteStore(":memory:", cap)));

Deno.test("sqlite store: data survives closing and reopening the file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/chat.db`;
    const first = openSqliteStore(path);
    const id = await first.users.create("persistent", "h");
    await first.messages.append({
      senderId: id,
      senderName: "persistent",
      toId: id,
      groupId: null,
      msg: "kept",
      time: "2026-01-02T03:04:05.678Z",
      key: null,
      recipients: [id],
    });
    await first.close();
    const second = openSqliteStore(path);
    assert.equal((await second.users.findById(id))?.name, "persistent");
    assert.equal((await second.messages.pending(id))[0].msg, "kept");
    await second.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sqlite store: group members added through another connection to the file are seen", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/chat.db`;
  const here = openSqliteStore(path);
  const elsewhere = openSqliteStore(path);
  // Commits by another connection are looked for once per event-loop turn.
  const nextTurn = () => new Promise((resolve) => setTimeout(resolve, 0));
  try {
    const owner = await here.users.create("owner", "h");
    const joiner = await here.users.create("joiner", "h");
    // A group id looked up before it exists, then created by the other connection.
    assert.deepEqual(await here.groups.memberIds(1), []);
    const groupId = await elsewhere.groups.create(owner, "devs", "");
    assert.equal(groupId, 1);
    await nextTurn();
    assert.deepEqual(await here.groups.memberIds(groupId), [owner]);
    await elsewhere.groups.join(groupId, joiner);
    await nextTurn();
    assert.deepEqual(await here.groups.memberIds(groupId), [owner, joiner]);
  } finally {
    await here.close();
    await elsewhere.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sqlite store: appends of one turn commit together, a failing one alone is undone", async () => {
  const store = openSqliteStore(":memory:");
  try {
    const a = await store.users.create("a", "h");
    const b = await store.users.create("b", "h");
    const message = (msg: string, recipients: number[]) => ({
      senderId: a,
      senderName: "a",
      toId: b,
      groupId: null,
      msg,
      time: "2026-01-02T03:04:05.678Z",
      key: null,
      recipients,
    });
    // Submitted in one turn: the middle one names a user that does not exist (foreign key).
    const results = await Promise.allSettled([
      store.messages.append(message("one", [b])),
      store.messages.append(message("bad", [b, b + 100])),
      store.messages.append(message("three", [b])),
    ]);
    assert.deepEqual(results.map((result) => result.status), [
      "fulfilled",
      "rejected",
      "fulfilled",
    ]);
    assert.deepEqual((await store.messages.pending(b)).map((m) => m.msg), ["one", "three"]);
    const history = { userId: a, peerId: b, groupId: null, beforeMid: null, limit: 10 };
    assert.deepEqual((await store.messages.history(history)).map((m) => m.msg), ["one", "three"]);
  } finally {
    await store.close();
  }
});

Deno.test("sqlite store: work queued when the store closes fails with a StorageError", async () => {
  const store = openSqliteStore(":memory:");
  const a = await store.users.create("a", "h");
  const pending = store.messages.acknowledge(a, [1]);
  await store.close();
  await assert.rejects(pending, (error) => error instanceof StorageError);
});

Deno.test("sqlite store: a file made before the history chain keeps its history", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/old.db`;
    const old = new DatabaseSync(path);
    old.exec(`
      CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL);
      CREATE TABLE chat_groups (id INTEGER PRIMARY KEY, groupname TEXT NOT NULL UNIQUE,
        groupdesc TEXT NOT NULL DEFAULT '');
      CREATE TABLE messages (mid INTEGER PRIMARY KEY, sender_id INTEGER NOT NULL,
        sender_name TEXT NOT NULL, to_id INTEGER, group_id INTEGER, msg TEXT NOT NULL,
        time TEXT NOT NULL, client_key TEXT);
      CREATE INDEX messages_by_pair ON messages (sender_id, to_id, mid) WHERE to_id IS NOT NULL;
      CREATE INDEX messages_by_group ON messages (group_id, mid) WHERE group_id IS NOT NULL;
      INSERT INTO users (id, name, password_hash) VALUES (1, 'a', 'h'), (2, 'b', 'h'), (3, 'c', 'h');
      INSERT INTO chat_groups (id, groupname) VALUES (7, 'g');
      INSERT INTO messages (sender_id, sender_name, to_id, group_id, msg, time) VALUES
        (1, 'a', 2, NULL, 'ab1', 't'), (2, 'b', 1, NULL, 'ab2', 't'),
        (1, 'a', 3, NULL, 'ac1', 't'), (3, 'c', NULL, 7, 'g1', 't'),
        (1, 'a', 2, NULL, 'ab3', 't'), (1, 'a', NULL, 7, 'g2', 't');
    `);
    old.close();
    const store = openSqliteStore(path);
    const query: HistoryQuery = { userId: 2, peerId: 1, groupId: null, beforeMid: null, limit: 10 };
    const texts = async (q: HistoryQuery) =>
      (await store.messages.history(q)).map((message) => message.msg);
    assert.deepEqual(await texts(query), ["ab1", "ab2", "ab3"]);
    assert.deepEqual(await texts({ ...query, beforeMid: 5 }), ["ab1", "ab2"]);
    assert.deepEqual(await texts({ ...query, peerId: null, groupId: 7 }), ["g1", "g2"]);
    await store.messages.append({
      senderId: 2,
      senderName: "b",
      toId: 1,
      groupId: null,
      msg: "ab4",
      time: "t",
      key: null,
      recipients: [],
    });
    assert.deepEqual(await texts(query), ["ab1", "ab2", "ab3", "ab4"]);
    await store.close();
    const check = new DatabaseSync(path);
    const indexes = check.prepare("SELECT name FROM sqlite_master WHERE type = 'index'").all();
    assert.ok(!indexes.some((index) => String(index.name).startsWith("messages_by_pair")));
    check.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
