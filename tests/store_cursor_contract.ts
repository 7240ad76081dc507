// The delivery-cursor part of the store contract (CursorRepository, MessageRepository.keepPending),
// run by tests/store_contract.ts against every implementation.

import assert from "node:assert/strict";
import type { NewMessage, Repositories } from "../lib/store/types.ts";

type StoreTest = (title: string, body: (store: Repositories) => Promise<void>) => void;

/** Registers the cursor tests; `withCap` runs a body on a fresh store with that pending cap. */
export function cursorContract(
  test: StoreTest,
  withCap: (
    title: string,
    pendingCap: number,
    body: (store: Repositories) => Promise<void>,
  ) => void,
) {
  /** Appends a message taken directly (pending for nobody); returns its mid. */
  const send = async (
    store: Repositories,
    senderId: number,
    to: { toId: number } | { groupId: number },
    msg: string,
  ): Promise<number> => {
    const message: NewMessage = {
      senderId,
      senderName: `user${senderId}`,
      toId: null,
      groupId: null,
      msg,
      time: "2026-01-02T03:04:05.678Z",
      key: null,
      recipients: [],
      ...to,
    };
    return (await store.messages.append(message)).message.mid;
  };
  const texts = async (opening: Promise<{ unconfirmed: { msg: string }[] }>) =>
    (await opening).unconfirmed.map((message) => message.msg);

  test("a cursor opened the first time starts at the newest message", async (store) => {
    const a = await store.users.create("a", "h");
    const b = await store.users.create("b", "h");
    assert.deepEqual(await store.cursors.open(a, 1, 10), { newest: 0, unconfirmed: [] });
    await send(store, a, { toId: b }, "before");
    const newest = await send(store, b, { toId: a }, "before too");
    assert.deepEqual(await store.cursors.open(b, 2, 10), { newest, unconfirmed: [] });
    // Found open (by 2) at the newest message: nothing above it yet.
    assert.deepEqual(await store.cursors.open(b, 3, 10), { newest, unconfirmed: [] });
    const after = await send(store, a, { toId: b }, "after");
    const reopened = await store.cursors.open(b, 4, 10);
    assert.equal(reopened.newest, after);
    assert.deepEqual(reopened.unconfirmed.map((message) => message.msg), ["after"]);
  });

  test("many users opening their first cursors at once all succeed", async (store) => {
    // On MySQL a locking read of a missing row takes a gap lock; logins that each insert their
    // own row into the same gap deadlocked (and failed with errno 9) before.
    const users = await Promise.all(
      Array.from({ length: 40 }, (_, k) => store.users.create(`many${k}`, "h")),
    );
    const openings = await Promise.allSettled(
      users.map((userId, k) => store.cursors.open(userId, 1000 + k, 10)),
    );
    assert.deepEqual(openings.filter((opening) => opening.status === "rejected"), []);
  });

  test("a cursor left open gives what is for its user above it, oldest first", async (store) => {
    // a's id is below the user's, c's above (stores may keep a pair of users in id order).
    const a = await store.users.create("a", "h");
    const user = await store.users.create("user", "h");
    const c = await store.users.create("c", "h");
    const mine = await store.groups.create(a, "mine", "");
    const notMine = await store.groups.create(a, "not mine", "");
    const left = await store.groups.create(a, "left", "");
    await store.groups.join(mine, user);
    await store.groups.join(left, user);
    await send(store, a, { toId: user }, "old direct");
    await send(store, a, { groupId: mine }, "old group");
    await store.cursors.open(user, 1, 10);
    await send(store, a, { groupId: mine }, "g1");
    await send(store, a, { toId: user }, "d1");
    await send(store, user, { toId: a }, "own direct");
    await send(store, a, { toId: c }, "to someone else");
    await send(store, user, { groupId: mine }, "own in group");
    await send(store, c, { groupId: notMine }, "group not mine");
    await send(store, c, { groupId: left }, "group left");
    await send(store, c, { groupId: mine }, "g2");
    await send(store, c, { toId: user }, "d2");
    await store.groups.leave(left, user);
    const newest = await send(store, a, { toId: c }, "newest, not for user");
    const found = await store.cursors.open(user, 2, 10);
    assert.equal(found.newest, newest);
    assert.deepEqual(found.unconfirmed.map((message) => message.msg), ["g1", "d1", "g2", "d2"]);
    const [g1] = found.unconfirmed;
    assert.deepEqual({ ...g1 }, {
      mid: g1.mid,
      senderId: a,
      senderName: `user${a}`,
      toId: null,
      groupId: mine,
      msg: "g1",
      time: "2026-01-02T03:04:05.678Z",
    });
    // Still open (by 2) where it was: only the newest `limit`, still oldest first.
    assert.deepEqual(await texts(store.cursors.open(user, 3, 3)), ["d1", "g2", "d2"]);
    assert.deepEqual(await texts(store.cursors.open(user, 4, 2)), ["g2", "d2"]);
    assert.deepEqual(await texts(store.cursors.open(user, 5, 1)), ["d2"]);
    assert.deepEqual(await store.messages.pending(user), [], "opening makes nothing pending");
  });

  test("advance and close move a cursor only for its owner and never down", async (store) => {
    const a = await store.users.create("a", "h");
    const b = await store.users.create("b", "h");
    const c = await store.users.create("c", "h");
    await store.cursors.open(b, 1, 10);
    await store.cursors.open(c, 7, 10);
    const toB: number[] = [];
    const toC: number[] = [];
    for (let n = 1; n <= 4; n++) {
      toB.push(await send(store, a, { toId: b }, `b${n}`));
      toC.push(await send(store, a, { toId: c }, `c${n}`));
    }
    // Marks issued together, for two users, one of them out of order.
    await Promise.all([
      store.cursors.advance([{ userId: b, owner: 1, upto: toB[0] }]),
      store.cursors.advance([
        { userId: b, owner: 1, upto: toB[1] },
        { userId: c, owner: 7, upto: toC[0] },
        { userId: c, owner: 7, upto: toC[2] },
      ]),
      store.cursors.advance([{ userId: b, owner: 9, upto: toB[3] }]),
      store.cursors.advance([]),
    ]);
    await store.cursors.advance([{ userId: b, owner: 1, upto: toB[0] }]);
    await store.cursors.close({ userId: b, owner: 9, upto: toB[3] });
    assert.deepEqual(await texts(store.cursors.open(b, 2, 10)), ["b3", "b4"]);
    assert.deepEqual(await texts(store.cursors.open(c, 8, 10)), ["c4"]);
    // Closed by its owner (2 now), a cursor gives nothing and moves up to the newest message.
    await store.cursors.close({ userId: b, owner: 2, upto: toB[2] });
    const whileClosed = await send(store, a, { toId: b }, "b5");
    assert.deepEqual(await store.cursors.open(b, 3, 10), { newest: whileClosed, unconfirmed: [] });
    await send(store, a, { toId: b }, "b6");
    assert.deepEqual(await texts(store.cursors.open(b, 4, 10)), ["b6"]);
  });

  test("once another session opens a cursor, the old owner's marks change nothing", async (store) => {
    const a = await store.users.create("a", "h");
    const b = await store.users.create("b", "h");
    await store.cursors.open(b, 1, 10);
    const b1 = await send(store, a, { toId: b }, "b1");
    const b2 = await send(store, a, { toId: b }, "b2");
    assert.deepEqual(await texts(store.cursors.open(b, 2, 10)), ["b1", "b2"]);
    await store.cursors.advance([{ userId: b, owner: 1, upto: b2 }]);
    await store.cursors.close({ userId: b, owner: 1, upto: b2 });
    assert.deepEqual(await texts(store.cursors.open(b, 3, 10)), ["b1", "b2"], "still open");
    await store.cursors.advance([{ userId: b, owner: 3, upto: b1 }]);
    assert.deepEqual(await texts(store.cursors.open(b, 4, 10)), ["b2"]);
  });

  withCap("keepPending makes messages pending once each, within the cap", 3, async (store) => {
    const a = await store.users.create("a", "h");
    const b = await store.users.create("b", "h");
    const mids: number[] = [];
    for (let n = 1; n <= 5; n++) mids.push(await send(store, a, { toId: b }, `m${n}`));
    const pendingTexts = async () => (await store.messages.pending(b)).map((m) => m.msg);
    await store.messages.keepPending(b, [mids[1], mids[0]]);
    await store.messages.keepPending(b, []);
    assert.deepEqual(await pendingTexts(), ["m1", "m2"]);
    await store.messages.keepPending(b, [mids[0], mids[1], mids[1]]);
    assert.deepEqual(await pendingTexts(), ["m1", "m2"], "kept once");
    assert.deepEqual(await store.messages.pending(a), []);
    assert.equal(await store.messages.takeDropped(b), 0);
    await store.messages.keepPending(b, [mids[2], mids[3]]);
    assert.deepEqual(await pendingTexts(), ["m2", "m3", "m4"], "the oldest dropped");
    assert.equal(await store.messages.takeDropped(b), 1);
    await store.messages.acknowledge(b, [mids[1]]);
    await store.messages.keepPending(b, [mids[4]]);
    assert.deepEqual(await pendingTexts(), ["m3", "m4", "m5"]);
    assert.equal(await store.messages.takeDropped(b), 0, "acknowledging made room");
  });
}
