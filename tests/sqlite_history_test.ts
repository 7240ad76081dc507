// A HISTORY page on SQLite does bounded work whatever `before` is. In a group of 30,000
// messages, a page before an old mid of another conversation used to walk the whole chain
// synchronously (111 ms with every connection frozen); now it starts from the nearest mark.

import assert from "node:assert/strict";
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { historyChain, MARK_EVERY } from "../lib/store/sqlite_history.ts";
import { openSqliteStore } from "../lib/store/sqlite.ts";
import type { HistoryQuery, NewMessage, Repositories } from "../lib/store/types.ts";

const GROUP_MESSAGES = 30_000;

function message(senderId: number, fields: Partial<NewMessage>): NewMessage {
  return {
    senderId,
    senderName: "u",
    toId: null,
    groupId: null,
    msg: "m",
    time: "2026-01-02T03:04:05.678Z",
    key: null,
    recipients: [],
    ...fields,
  };
}

interface BigGroup {
  /** mids of pair messages: before the group's, in the middle of them, after them. */
  early: number;
  middle: number;
  late: number;
  groupId: number;
  /** The group's mids, in order. */
  groupMids: number[];
}

/** A file with a 30,000-message group and pair messages before, amid and after it. */
async function bigGroup(path: string): Promise<BigGroup> {
  const store: Repositories = openSqliteStore(path);
  try {
    const a = await store.users.create("a", "h");
    const b = await store.users.create("b", "h");
    const groupId = await store.groups.create(a, "big", "");
    const pair = async () => (await store.messages.append(message(a, { toId: b }))).message.mid;
    const early = await pair();
    const groupMids: number[] = [];
    let middle = 0;
    for (let done = 0; done < GROUP_MESSAGES; done += 1000) {
      if (done === GROUP_MESSAGES / 2) middle = await pair();
      const stored = await Promise.all(
        Array.from(
          { length: 1000 },
          (_, i) => store.messages.append(message(a, { groupId, msg: `g${done + i + 1}` })),
        ),
      );
      groupMids.push(...stored.map((result) => result.message.mid));
    }
    const late = await pair();
    return { early, middle, late, groupId, groupMids };
  } finally {
    await store.close();
  }
}

/** The history chain over `db`, counting the rows its statements read. */
function countingChain(db: DatabaseSync) {
  let reads = 0;
  const chain = historyChain((text) => {
    const statement = db.prepare(text);
    return new Proxy(statement, {
      get(target, property) {
        const value = Reflect.get(target, property);
        if (property !== "get" && property !== "all") return value;
        return (...args: Parameters<StatementSync["get"]>) => {
          reads++;
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
  });
  return { chain, reads: () => reads };
}

Deno.test("sqlite history: a page before a mid of another conversation reads boundedly", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/chat.db`;
    const { early, middle, late, groupId, groupMids } = await bigGroup(path);
    const db = new DatabaseSync(path);
    try {
      const query = (beforeMid: number | null, limit = 20): HistoryQuery => ({
        userId: 1,
        peerId: null,
        groupId,
        beforeMid,
        limit,
      });
      const bound = MARK_EVERY + 100 + 3;
      const inGroup = [groupMids[20_000], groupMids[20_000 + MARK_EVERY - 1]];
      for (const before of [early, middle, late, ...inGroup]) {
        for (const limit of [1, 100]) {
          const { chain, reads } = countingChain(db);
          const rows = chain.walk(query(before, limit));
          assert.ok(reads() <= bound, `before ${before}: ${reads()} reads, at most ${bound}`);
          // The newest `limit` group messages below `before`, as a full walk would find them.
          const expected = groupMids.filter((mid) => mid < before).slice(-limit).reverse();
          assert.deepEqual(rows.map((row) => Number(row.mid)), expected, `before ${before}`);
        }
      }
    } finally {
      db.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sqlite history: a file made before the marks gets them when opened", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/chat.db`;
    const { early, groupId } = await bigGroup(path);
    const old = new DatabaseSync(path);
    old.exec(`DROP TABLE group_marks; DROP TABLE pair_marks;
      ALTER TABLE group_heads DROP COLUMN length; ALTER TABLE pair_heads DROP COLUMN length;`);
    old.close();
    const store = openSqliteStore(path);
    const mid = (await store.messages.append(message(1, { groupId, msg: "after" }))).message.mid;
    const newest = await store.messages.history({
      userId: 2,
      peerId: null,
      groupId,
      beforeMid: null,
      limit: 2,
    });
    assert.deepEqual(newest.map((m) => m.mid), [mid - 2, mid], "the pair message between");
    await store.close();
    const db = new DatabaseSync(path);
    try {
      const marks = db.prepare("SELECT count(*) AS n FROM group_marks").get();
      assert.equal(Number(marks?.n), Math.floor((GROUP_MESSAGES + 1) / MARK_EVERY));
      const { chain, reads } = countingChain(db);
      const page = chain.walk({ userId: 1, peerId: null, groupId, beforeMid: early + 1, limit: 5 });
      assert.deepEqual(page.map((row) => Number(row.mid)), []);
      assert.ok(reads() <= MARK_EVERY + 5 + 3, `${reads()} reads`);
    } finally {
      db.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
