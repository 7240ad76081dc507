// The one contract every Repositories implementation must pass (SQLite and MySQL run it).

import assert from "node:assert/strict";
import { ChatError, Errno } from "../lib/errors.ts";
import type { NewMessage, Repositories } from "../lib/store/types.ts";
import { cursorContract } from "./store_cursor_contract.ts";

/** Registers the contract tests for one implementation. `open` gives a fresh, empty store. */
export function storeContract(
  name: string,
  open: (pendingCap?: number) => Promise<Repositories>,
  ignore = false,
) {
  const withCap = (
    title: string,
    pendingCap: number | undefined,
    body: (store: Repositories) => Promise<void>,
  ) =>
    Deno.test({
      name: `${name} store: ${title}`,
      ignore,
      async fn() {
        const store = await open(pendingCap);
        try {
          await body(store);
        } finally {
          await store.close();
        }
      },
    });
  const test = (title: string, body: (store: Repositories) => Promise<void>) =>
    withCap(title, undefined, body);

  const conflict = (error: unknown) => error instanceof ChatError && error.errno === Errno.CONFLICT;

  test("creates users with increasing ids and finds them by id and by name", async (store) => {
    const alice = await store.users.create("alice", "hash-a");
    const bob = await store.users.create("bob", "hash-b");
    assert.ok(bob > alice);
    assert.deepEqual({ ...await store.users.findById(alice) }, {
      id: alice,
      name: "alice",
      passwordHash: "hash-a",
    });
    assert.equal((await store.users.findByName("bob"))?.id, bob);
    assert.equal(await store.users.findById(999_999), null);
    assert.equal(await store.users.findByName("nobody"), null);
  });

  test("keeps names of any language and emoji intact", async (store) => {
    const id = await store.users.create("张三 🐉", "h");
    assert.equal((await store.users.findById(id))?.name, "张三 🐉");
    assert.equal((await store.users.findByName("张三 🐉"))?.id, id);
  });

  test("refuses a taken user name with CONFLICT", async (store) => {
    await store.users.create("carol", "h");
    await assert.rejects(store.users.create("carol", "h2"), conflict);
  });

  test("treats names as literal text, never as SQL", async (store) => {
    const name = "x'); DROP TABLE users; --";
    const id = await store.users.create(name, "h");
    assert.equal((await store.users.findByName(name))?.id, id);
    assert.equal(await store.users.findByName("x' OR '1'='1"), null);
  });

  test("friendship is mutual and a second add is CONFLICT", async (store) => {
    const a = await store.users.create("a", "h");
    const b = await store.users.create("b", "h");
    const c = await store.users.create("c", "h");
    await store.friends.add(a, b);
    await store.friends.add(c, a);
    assert.deepEqual((await store.friends.list(a)).map((f) => ({ ...f })), [
      { id: b, name: "b" },
      { id: c, name: "c" },
    ]);
    assert.deepEqual((await store.friends.list(b)).map((f) => f.id), [a]);
    await assert.rejects(store.friends.add(b, a), conflict);
    assert.deepEqual((await store.friends.list(b)).map((f) => f.id), [a]);
  });

  test("a group has its creator as member and joiners as normal members", async (store) => {
    const owner = await store.users.create("owner", "h");
    const joiner = await store.users.create("joiner", "h");
    const outsider = await store.users.create("outsider", "h");
    const groupId = await store.groups.create(owner, "devs", "we write code");
    assert.deepEqual({ ...await store.groups.findById(groupId) }, {
      id: groupId,
      groupname: "devs",
      groupdesc: "we write code",
    });
    assert.deepEqual(await store.groups.memberIds(groupId), [owner]);
    await store.groups.join(groupId, joiner);
    await assert.rejects(store.groups.join(groupId, joiner), conflict);
    assert.equal(await store.groups.isMember(groupId, joiner), true);
    assert.equal(await store.groups.isMember(groupId, outsider), false);
    assert.deepEqual(await store.groups.memberIds(groupId), [owner, joiner]);
    const [group] = await store.groups.listForUser(joiner);
    assert.equal(group.id, groupId);
    assert.deepEqual(group.members.map((m) => ({ ...m })), [
      { id: owner, name: "owner", role: "creator" },
      { id: joiner, name: "joiner", role: "normal" },
    ]);
    assert.deepEqual(await store.groups.listForUser(outsider), []);
    assert.equal(await store.groups.findById(groupId + 1000), null);
    assert.deepEqual(await store.groups.memberIds(groupId + 1000), []);
  });

  test("removing a friend ends the friendship both ways, once", async (store) => {
    const a = await store.users.create("a", "h");
    const b = await store.users.create("b", "h");
    const c = await store.users.create("c", "h");
    await store.friends.add(a, b);
    await store.friends.add(a, c);
    assert.equal(await store.friends.remove(b, a), true);
    assert.deepEqual((await store.friends.list(a)).map((f) => f.id), [c]);
    assert.deepEqual(await store.friends.list(b), []);
    assert.equal(await store.friends.remove(a, b), false);
    assert.equal(await store.friends.remove(b, c), false);
    await store.friends.add(b, a);
    assert.deepEqual((await store.friends.list(a)).map((f) => f.id), [b, c]);
  });

  test("members lists names and roles; leaving removes only that member", async (store) => {
    const owner = await store.users.create("owner", "h");
    const joiner = await store.users.create("joiner", "h");
    const outsider = await store.users.create("outsider", "h");
    const groupId = await store.groups.create(owner, "devs", "");
    assert.equal(await store.groups.join(groupId, joiner), "normal");
    assert.deepEqual((await store.groups.members(groupId)).map((m) => ({ ...m })), [
      { id: owner, name: "owner", role: "creator" },
      { id: joiner, name: "joiner", role: "normal" },
    ]);
    assert.deepEqual(await store.groups.members(groupId + 1000), []);
    assert.equal(await store.groups.leave(groupId, outsider), null);
    assert.deepEqual(await store.groups.leave(groupId, joiner), { newCreator: null });
    assert.equal(await store.groups.leave(groupId, joiner), null);
    assert.equal(await store.groups.isMember(groupId, joiner), false);
    assert.deepEqual(await store.groups.memberIds(groupId), [owner]);
    assert.deepEqual(await store.groups.listForUser(joiner), []);
    assert.equal(await store.groups.join(groupId, joiner), "normal");
  });

  test("when the creator leaves, the member who joined earliest becomes creator", async (store) => {
    const owner = await store.users.create("owner", "h");
    const lowId = await store.users.create("low", "h");
    const highId = await store.users.create("high", "h");
    const groupId = await store.groups.create(owner, "devs", "");
    await store.groups.join(groupId, highId);
    // Join times are kept to the millisecond: let the next join come a few later.
    await new Promise((resolve) => setTimeout(resolve, 5));
    await store.groups.join(groupId, lowId);
    assert.deepEqual(await store.groups.leave(groupId, owner), { newCreator: highId });
    assert.deepEqual((await store.groups.members(groupId)).map((m) => [m.id, m.role]), [
      [lowId, "normal"],
      [highId, "creator"],
    ]);
    assert.deepEqual(await store.groups.leave(groupId, highId), { newCreator: lowId });
    assert.deepEqual(await store.groups.memberIds(groupId), [lowId]);
  });

  test("a group whose last member left is kept, and its next member is creator", async (store) => {
    const owner = await store.users.create("owner", "h");
    const next = await store.users.create("next", "h");
    const groupId = await store.groups.create(owner, "devs", "kept");
    assert.deepEqual(await store.groups.leave(groupId, owner), { newCreator: null });
    assert.deepEqual(await store.groups.memberIds(groupId), []);
    assert.equal((await store.groups.findById(groupId))?.groupdesc, "kept");
    await assert.rejects(store.groups.create(next, "devs", ""), conflict);
    assert.equal(await store.groups.join(groupId, next), "creator");
    assert.equal(await store.groups.join(groupId, owner), "normal");
    assert.deepEqual((await store.groups.members(groupId)).map((m) => [m.id, m.role]), [
      [owner, "normal"],
      [next, "creator"],
    ]);
  });

  test("a taken group name is CONFLICT and leaves no half-made group", async (store) => {
    const owner = await store.users.create("owner", "h");
    await store.groups.create(owner, "team", "");
    await assert.rejects(store.groups.create(owner, "team", "again"), conflict);
    assert.equal((await store.groups.listForUser(owner)).length, 1);
  });

  const message = (
    senderId: number,
    fields: Partial<NewMessage> & { recipients: number[] },
  ): NewMessage => ({
    senderId,
    senderName: `user${senderId}`,
    toId: null,
    groupId: null,
    msg: "hello",
    time: "2026-01-02T03:04:05.678Z",
    key: null,
    ...fields,
  });

  test("appended messages get increasing mids and wait for each recipient", async (store) => {
    const a = await store.users.create("a", "h");
    const b = await store.users.create("b", "h");
    const c = await store.users.create("c", "h");
    const first = await store.messages.append(
      message(a, { toId: b, msg: "one 🎉", recipients: [b] }),
    );
    assert.equal(first.duplicate, false);
    assert.deepEqual({ ...first.message }, {
      mid: first.message.mid,
      senderId: a,
      senderName: `user${a}`,
      toId: b,
      groupId: null,
      msg: "one 🎉",
      time: "2026-01-02T03:04:05.678Z",
    });
    const groupId = await store.groups.create(a, "g", "");
    const second = await store.messages.append(
      message(a, { groupId, msg: "two", recipients: [b, c] }),
    );
    assert.ok(second.message.mid > first.message.mid);
    assert.deepEqual((await store.messages.pending(b)).map((m) => ({ ...m })), [
      { ...first.message },
      { ...second.message },
    ]);
    assert.deepEqual((await store.messages.pending(c)).map((m) => m.msg), ["two"]);
    assert.deepEqual(await store.messages.pending(a), []);
  });

  test("acknowledged messages stop being pending for that recipient only", async (store) => {
    const a = await store.users.create("a", "h");
    const b = await store.users.create("b", "h");
    const c = await store.users.create("c", "h");
    const mids: number[] = [];
    for (const msg of ["1", "2", "3"]) {
      mids.push((await store.messages.append(message(a, { msg, recipients: [b, c] }))).message.mid);
    }
    await store.messages.acknowledge(b, [mids[0], mids[2], 999_999]);
    assert.deepEqual((await store.messages.pending(b)).map((m) => m.msg), ["2"]);
    assert.deepEqual((await store.messages.pending(c)).map((m) => m.msg), ["1", "2", "3"]);
    await store.messages.acknowledge(b, [mids[1], mids[1]]);
    await store.messages.acknowledge(b, []);
    assert.deepEqual(await store.messages.pending(b), []);
  });

  test("a message appended for no recipient is in the log and pending for no one", async (store) => {
    const a = await store.users.create("a", "h");
    const b = await store.users.create("b", "h");
    const { message: stored } = await store.messages.append(
      message(a, { toId: b, msg: "taken directly", recipients: [] }),
    );
    assert.deepEqual(await store.messages.pending(b), []);
    const history = await store.messages.history({
      userId: b,
      peerId: a,
      groupId: null,
      beforeMid: null,
      limit: 10,
    });
    assert.deepEqual(history.map((m) => m.mid), [stored.mid]);
  });

  test("addPending makes a stored message pending, once per user", async (store) => {
    const a = await store.users.create("a", "h");
    const b = await store.users.create("b", "h");
    const c = await store.users.create("c", "h");
    const first = await store.messages.append(message(a, { msg: "one", recipients: [b] }));
    const second = await store.messages.append(message(a, { msg: "two", recipients: [] }));
    await store.messages.addPending(second.message.mid, [c, b, c]);
    await store.messages.addPending(first.message.mid, [b]);
    await store.messages.addPending(first.message.mid, []);
    assert.deepEqual((await store.messages.pending(b)).map((m) => m.msg), ["one", "two"]);
    assert.deepEqual((await store.messages.pending(c)).map((m) => m.msg), ["two"]);
    await store.messages.acknowledge(b, [first.message.mid, second.message.mid]);
    assert.deepEqual(await store.messages.pending(b), [], "one acknowledgement clears it");
  });

  test("a repeated idempotency key stores nothing and returns the first message", async (store) => {
    const a = await store.users.create("a", "h");
    const b = await store.users.create("b", "h");
    const first = await store.messages.append(
      message(a, { toId: b, key: "k-1", msg: "once", recipients: [b] }),
    );
    const again = await store.messages.append(
      message(a, { toId: b, key: "k-1", msg: "once (retry)", recipients: [b] }),
    );
    assert.equal(again.duplicate, true);
    assert.deepEqual({ ...again.message }, { ...first.message });
    const other = await store.messages.append(
      message(b, { toId: a, key: "k-1", msg: "same key, other sender", recipients: [a] }),
    );
    assert.equal(other.duplicate, false);
    assert.deepEqual((await store.messages.pending(b)).map((m) => m.msg), ["once"]);
  });

  test("appends issued together each get their own mid and deliveries", async (store) => {
    const users: number[] = [];
    for (const name of ["a", "b", "c", "d"]) users.push(await store.users.create(name, "h"));
    const [a, b, c, d] = users;
    const groupId = await store.groups.create(a, "g", "");
    const sent = Array.from(
      { length: 40 },
      (_, n) =>
        n % 4 === 3
          ? message(a, { groupId, msg: `g${n}`, recipients: [b, c, d] })
          : message(users[n % 3], {
            toId: users[(n % 3) + 1],
            msg: `m${n}`,
            recipients: [users[(n % 3) + 1]],
          }),
    );
    const results = await Promise.all(sent.map((m) => store.messages.append(m)));
    const mids = results.map((result) => result.message.mid);
    assert.equal(new Set(mids).size, mids.length, "distinct mids");
    assert.deepEqual(results.map((result) => result.message.msg), sent.map((m) => m.msg));
    assert.ok(results.every((result) => !result.duplicate));
    for (const user of users) {
      const expected = results
        .filter((_, n) => sent[n].recipients.includes(user))
        .map((result) => result.message.mid)
        .sort((x, y) => x - y);
      assert.deepEqual((await store.messages.pending(user)).map((m) => m.mid), expected);
    }
    // Acknowledgements issued together, some overlapping, some for other users' messages.
    const pendingOf = async (user: number) =>
      (await store.messages.pending(user)).map((m) => m.mid);
    const [ofB, ofC, ofD] = [await pendingOf(b), await pendingOf(c), await pendingOf(d)];
    await Promise.all([
      store.messages.acknowledge(b, ofB.slice(0, 5)),
      store.messages.acknowledge(b, ofB.slice(3, 8)),
      store.messages.acknowledge(c, ofC),
      store.messages.acknowledge(d, ofB),
    ]);
    assert.deepEqual(await pendingOf(b), ofB.slice(8));
    assert.deepEqual(await pendingOf(c), []);
    assert.deepEqual(await pendingOf(d), ofD.filter((mid) => !ofB.includes(mid)));
  });

  test("a reused key among appends issued together affects only its own message", async (store) => {
    const a = await store.users.create("a", "h");
    const b = await store.users.create("b", "h");
    const earlier = await store.messages.append(
      message(a, { toId: b, key: "k-old", msg: "earlier", recipients: [b] }),
    );
    const results = await Promise.all([
      store.messages.append(message(a, { toId: b, key: "k-1", msg: "one", recipients: [b] })),
      store.messages.append(message(a, { toId: b, msg: "two", recipients: [b] })),
      store.messages.append(message(a, { toId: b, key: "k-old", msg: "retry", recipients: [b] })),
      store.messages.append(message(a, { toId: b, key: "k-1", msg: "one again", recipients: [b] })),
    ]);
    assert.deepEqual(results.map((result) => result.duplicate), [false, false, true, true]);
    assert.deepEqual({ ...results[2].message }, { ...earlier.message });
    assert.deepEqual({ ...results[3].message }, { ...results[0].message });
    assert.deepEqual((await store.messages.pending(b)).map((m) => m.msg), [
      "earlier",
      "one",
      "two",
    ]);
  });

  test("appends for no recipient issued together: a reused key affects its own only", async (store) => {
    const a = await store.users.create("a", "h");
    const b = await store.users.create("b", "h");
    const earlier = await store.messages.append(
      message(a, { toId: b, key: "k-old", msg: "earlier", recipients: [] }),
    );
    const texts = ["one", "two", "three", "retry", "five", "six", "seven"];
    const results = await Promise.all(texts.map((msg) =>
      store.messages.append(
        message(a, { toId: b, msg, key: msg === "retry" ? "k-old" : null, recipients: [] }),
      )
    ));
    assert.deepEqual(
      results.map((result) => result.duplicate),
      texts.map((msg) => msg === "retry"),
    );
    assert.deepEqual({ ...results[3].message }, { ...earlier.message });
    const stored = results.filter((result) => !result.duplicate).map((result) => result.message);
    assert.deepEqual(stored.map((m) => m.msg), ["one", "two", "three", "five", "six", "seven"]);
    const mids = stored.map((m) => m.mid);
    assert.deepEqual(mids, [...mids].sort((x, y) => x - y), "mids follow submission");
    const history = await store.messages.history({
      userId: a,
      peerId: b,
      groupId: null,
      beforeMid: null,
      limit: 10,
    });
    assert.deepEqual(history.map((m) => m.msg), ["earlier", ...stored.map((m) => m.msg)]);
    assert.deepEqual(await store.messages.pending(b), []);
  });

  test("the history of a conversation pages backwards by mid", async (store) => {
    const a = await store.users.create("a", "h");
    const b = await store.users.create("b", "h");
    const c = await store.users.create("c", "h");
    const acMids: number[] = [];
    for (let i = 1; i <= 5; i++) {
      const [from, to] = i % 2 ? [a, b] : [b, a];
      await store.messages.append(message(from, { toId: to, msg: `ab${i}`, recipients: [to] }));
      const ac = await store.messages.append(
        message(a, { toId: c, msg: `ac${i}`, recipients: [c] }),
      );
      acMids.push(ac.message.mid);
    }
    const groupId = await store.groups.create(a, "g", "");
    await store.messages.append(message(a, { groupId, msg: "g1", recipients: [b] }));
    await store.messages.append(message(b, { groupId, msg: "g2", recipients: [a] }));

    const query = { userId: b, peerId: a, groupId: null, beforeMid: null, limit: 3 };
    const newest = await store.messages.history(query);
    assert.deepEqual(newest.map((m) => m.msg), ["ab3", "ab4", "ab5"]);
    const older = await store.messages.history({ ...query, beforeMid: newest[0].mid });
    assert.deepEqual(older.map((m) => m.msg), ["ab1", "ab2"]);
    // A mid of another conversation pages just as well: the messages older than it.
    const belowOther = await store.messages.history({ ...query, beforeMid: acMids[3] });
    assert.deepEqual(belowOther.map((m) => m.msg), ["ab2", "ab3", "ab4"]);
    const fromC = await store.messages.history({ ...query, userId: c, peerId: b, limit: 10 });
    assert.deepEqual(fromC.map((m) => m.msg), [], "c has no conversation with b");
    const ac = await store.messages.history({ ...query, userId: c, peerId: a, limit: 2 });
    assert.deepEqual(ac.map((m) => m.msg), ["ac4", "ac5"]);
    const group = await store.messages.history({ ...query, peerId: null, groupId, limit: 10 });
    assert.deepEqual(group.map((m) => [m.msg, m.senderId]), [["g1", a], ["g2", b]]);
  });

  test("stores a message body of 4096 four-byte characters", async (store) => {
    const a = await store.users.create("a", "h");
    const msg = "😀".repeat(4096);
    await store.messages.append(message(a, { toId: a, msg, recipients: [a] }));
    assert.equal((await store.messages.pending(a))[0].msg, msg);
  });

  test("a session token logs in until it expires, is revoked or the password changes", async (store) => {
    const day = 86_400_000;
    const alice = await store.users.create("alice", "old-hash");
    const bob = await store.users.create("bob", "h");
    await store.tokens.add(alice, "a".repeat(64), 10 * day, 0, 8);
    await store.tokens.add(alice, "b".repeat(64), 10 * day, 0, 8);
    await store.tokens.add(bob, "c".repeat(64), 10 * day, 0, 8);
    // Only the user's own, unexpired token; using it moves its expiry on.
    assert.equal(await store.tokens.use(alice, "a".repeat(64), 20 * day, 9 * day), true);
    assert.equal(await store.tokens.use(bob, "a".repeat(64), 20 * day, 9 * day), false);
    assert.equal(await store.tokens.use(alice, "d".repeat(64), 20 * day, 9 * day), false);
    assert.equal(await store.tokens.use(alice, "a".repeat(64), 30 * day, 19 * day), true);
    // "b" was last used on day 10: expired by day 21's cutoff, and forgotten.
    assert.equal(await store.tokens.use(alice, "b".repeat(64), 31 * day, 20 * day), false);
    assert.equal(await store.tokens.use(alice, "b".repeat(64), 31 * day, 0), false);
    await store.tokens.revoke("a".repeat(64));
    assert.equal(await store.tokens.use(alice, "a".repeat(64), 31 * day, 0), false);
    await store.tokens.add(alice, "e".repeat(64), 40 * day, 0, 8);
    await store.users.changePassword(alice, "new-hash");
    assert.equal((await store.users.findById(alice))?.passwordHash, "new-hash");
    assert.equal(await store.tokens.use(alice, "e".repeat(64), 41 * day, 0), false);
    assert.equal(await store.tokens.use(bob, "c".repeat(64), 41 * day, 0), true, "bob's stays");
  });

  test("keeps at most `keep` tokens per user, forgetting the least recently used", async (store) => {
    const user = await store.users.create("many", "h");
    const hashes = ["1", "2", "3", "4"].map((digit) => digit.repeat(64));
    for (const [index, hash] of hashes.entries()) await store.tokens.add(user, hash, index, -1, 3);
    assert.equal(await store.tokens.use(user, hashes[0], 10, -1), false, "the oldest went");
    assert.equal(await store.tokens.use(user, hashes[1], 11, -1), true);
    await store.tokens.add(user, "5".repeat(64), 12, -1, 3);
    assert.equal(await store.tokens.use(user, hashes[2], 13, -1), false, "least recently used");
    for (const hash of [hashes[1], hashes[3], "5".repeat(64)]) {
      assert.equal(await store.tokens.use(user, hash, 14, -1), true);
    }
  });

  test("answers ping", async (store) => {
    assert.equal(await store.ping(), true);
  });

  cursorContract(test, withCap);

  Deno.test({
    name: `${name} store: past the pending cap the oldest deliveries are dropped and counted`,
    ignore,
    async fn() {
      const store = await open(3);
      try {
        const a = await store.users.create("a", "h");
        const b = await store.users.create("b", "h");
        for (let i = 1; i <= 5; i++) {
          await store.messages.append(message(a, { toId: b, msg: `m${i}`, recipients: [b] }));
        }
        assert.deepEqual((await store.messages.pending(b)).map((m) => m.msg), ["m3", "m4", "m5"]);
        assert.equal(await store.messages.takeDropped(b), 2);
        assert.equal(await store.messages.takeDropped(b), 0);
        const [m3] = await store.messages.pending(b);
        await store.messages.acknowledge(b, [m3.mid]);
        await store.messages.append(message(a, { toId: b, msg: "m6", recipients: [b] }));
        assert.deepEqual((await store.messages.pending(b)).map((m) => m.msg), ["m4", "m5", "m6"]);
        assert.equal(await store.messages.takeDropped(b), 0, "acknowledging made room");
        assert.equal(await store.messages.takeDropped(a), 0);
        const direct = await store.messages.append(
          message(a, { toId: b, msg: "m7", recipients: [] }),
        );
        await store.messages.addPending(direct.message.mid, [b]);
        assert.deepEqual((await store.messages.pending(b)).map((m) => m.msg), ["m5", "m6", "m7"]);
        assert.equal(await store.messages.takeDropped(b), 1, "addPending keeps the cap");
      } finally {
        await store.close();
      }
    },
  });
}
