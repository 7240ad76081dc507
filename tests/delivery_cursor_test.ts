// DeliveryCursors (lib/delivery_cursor.ts) against a recording store and manual timers: which
// pushes a receipts session takes directly, what a RECEIPT confirms in memory, where the cursor
// is sent to the store, and what a session's end makes pending.

import assert from "node:assert/strict";
import { DeliveryCursors, UNCONFIRMED_CAP } from "../lib/delivery_cursor.ts";
import { LogThrottle } from "../lib/log_throttle.ts";
import type { Logger } from "../lib/log.ts";
import type { Session } from "../lib/session.ts";
import { ManualTimers } from "./support/manual_timers.ts";
import type {
  CursorMark,
  CursorOpening,
  CursorRepository,
  StoredMessage,
} from "../lib/store/types.ts";

/** Records what reaches the store; `failing` makes the next calls throw. */
class RecordingStore implements CursorRepository {
  opening: CursorOpening = { newest: 100, unconfirmed: [] };
  opened: Array<{ userId: number; owner: number }> = [];
  advanced: CursorMark[][] = [];
  closed: CursorMark[] = [];
  kept: Array<{ userId: number; mids: number[] }> = [];
  failing = false;

  open(userId: number, owner: number): Promise<CursorOpening> {
    this.opened.push({ userId, owner });
    return Promise.resolve(this.opening);
  }
  advance(marks: readonly CursorMark[]): Promise<void> {
    if (this.failing) return Promise.reject(new Error("database away"));
    this.advanced.push([...marks]);
    return Promise.resolve();
  }
  close(mark: CursorMark): Promise<void> {
    if (this.failing) return Promise.reject(new Error("database away"));
    this.closed.push(mark);
    return Promise.resolve();
  }
  keepPending(userId: number, mids: readonly number[]): Promise<void> {
    if (this.failing) return Promise.reject(new Error("database away"));
    this.kept.push({ userId, mids: [...mids] });
    return Promise.resolve();
  }
}

const quietLog: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return quietLog;
  },
} as unknown as Logger;

function setup() {
  const store = new RecordingStore();
  const timers = new ManualTimers();
  const cursors = new DeliveryCursors({
    cursors: store,
    messages: store,
    warnings: new LogThrottle(quietLog, { timers: new ManualTimers() }),
    timers,
  });
  return { store, timers, cursors };
}

const session = (): Session => ({}) as Session;

function message(mid: number): StoredMessage {
  return { mid, senderId: 2, senderName: "b", toId: 1, groupId: null, msg: "m", time: "t" };
}

Deno.test("a session without a cursor takes nothing directly", () => {
  const { cursors } = setup();
  const s = session();
  assert.equal(cursors.takes(s), false);
  assert.equal(cursors.accept(s, 101), false);
  assert.deepEqual(cursors.confirm(s, [5, 6]), [5, 6]);
});

Deno.test("a cursor takes only mids above every mid it took, up to its cap", async () => {
  const { cursors } = setup();
  const s = session();
  await cursors.open(1, s);
  assert.equal(cursors.accept(s, 100), false, "not above the log's newest at login");
  assert.equal(cursors.accept(s, 102), true);
  assert.equal(cursors.accept(s, 101), false, "an older mid arriving late goes pending");
  assert.equal(cursors.accept(s, 102), false, "the same mid twice");
  for (let mid = 103; mid < 102 + UNCONFIRMED_CAP; mid++) {
    assert.equal(cursors.accept(s, mid), true);
  }
  assert.equal(cursors.takes(s), false, "full");
  assert.equal(cursors.accept(s, 5000), false);
  cursors.confirm(s, [102]);
  assert.equal(cursors.takes(s), true);
});

Deno.test("receipts of direct pushes stay in memory; others are returned for the store", async () => {
  const { cursors } = setup();
  const s = session();
  await cursors.open(1, s);
  cursors.accept(s, 101);
  cursors.accept(s, 105);
  assert.deepEqual(cursors.confirm(s, [105, 50, 101, 77]), [50, 77]);
  assert.deepEqual(cursors.confirm(s, [105]), [105], "confirmed once already: not a cursor mid");
});

Deno.test("the store gets the cursor below the oldest unconfirmed push, in one batch per flush", async () => {
  const { store, timers, cursors } = setup();
  const a = session();
  const b = session();
  await cursors.open(1, a);
  await cursors.open(2, b);
  for (const mid of [101, 102, 103]) cursors.accept(a, mid);
  cursors.accept(b, 104);
  cursors.confirm(a, [102]);
  assert.equal(timers.waiting, 1, "a flush is scheduled");
  assert.equal(store.advanced.length, 0, "nothing written per receipt");
  cursors.confirm(a, [101]);
  cursors.confirm(b, [104]);
  assert.equal(timers.waiting, 1, "still one flush");
  timers.fire();
  await Promise.resolve();
  const [ownerA, ownerB] = store.opened.map(({ owner }) => owner);
  assert.deepEqual(store.advanced, [[
    { userId: 1, owner: ownerA, upto: 102 },
    { userId: 2, owner: ownerB, upto: 104 },
  ]]);
  cursors.confirm(a, [103]);
  await cursors.flush();
  assert.deepEqual(store.advanced[1], [{ userId: 1, owner: ownerA, upto: 103 }]);
  assert.equal(timers.waiting, 0, "flush() clears the timer");
});

Deno.test("a failed flush is retried with the next one", async () => {
  const { store, timers, cursors } = setup();
  const s = session();
  await cursors.open(1, s);
  cursors.accept(s, 101);
  cursors.confirm(s, [101]);
  store.failing = true;
  await cursors.flush();
  assert.equal(store.advanced.length, 0);
  assert.equal(timers.waiting, 1, "retry scheduled");
  store.failing = false;
  timers.fire();
  await Promise.resolve();
  assert.deepEqual(store.advanced.map((marks) => marks[0].upto), [101]);
});

Deno.test("a session's end makes its unconfirmed pushes pending, then closes the cursor at the highest mid", async () => {
  const { store, cursors } = setup();
  const s = session();
  await cursors.open(1, s);
  for (const mid of [101, 102, 103]) cursors.accept(s, mid);
  cursors.confirm(s, [102]);
  await cursors.close(s);
  assert.deepEqual(store.kept, [{ userId: 1, mids: [101, 103] }]);
  assert.deepEqual(store.closed, [{ userId: 1, owner: store.opened[0].owner, upto: 103 }]);
  assert.equal(cursors.takes(s), false, "gone");
  await cursors.close(s);
  assert.equal(store.closed.length, 1, "closing twice does nothing");
});

Deno.test("a session's end with the store away leaves the cursor open and does not throw", async () => {
  const { store, cursors } = setup();
  const s = session();
  await cursors.open(1, s);
  cursors.accept(s, 101);
  store.failing = true;
  await cursors.close(s);
  assert.deepEqual(store.closed, []);
});

Deno.test("what a crashed session left unconfirmed is awaited again; its receipts also go to the store", async () => {
  const { store, cursors } = setup();
  store.opening = { newest: 110, unconfirmed: [message(90), message(95), message(99)] };
  const s = session();
  const read = await cursors.open(1, s);
  assert.deepEqual(read.map(({ mid }) => mid), [90, 95, 99]);
  // Read back, they may be pending rows as well: the store removes those.
  assert.deepEqual(cursors.confirm(s, [90, 95, 42]), [90, 95, 42]);
  assert.deepEqual(cursors.confirm(s, [90]), [90], "no longer awaited");
  assert.equal(cursors.accept(s, 105), false, "takes only above the newest");
  await cursors.flush();
  assert.deepEqual(store.advanced[0][0].upto, 98, "below 99, still unconfirmed");
  await cursors.close(s);
  assert.deepEqual(store.kept, [{ userId: 1, mids: [99] }]);
  assert.equal(store.closed[0].upto, 110);
});
