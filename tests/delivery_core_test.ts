// The delivery guarantee in the chat core, without sockets: mids, receipts, redelivery until
// acknowledged, idempotency keys, the pending cap, history, ping, rate limit and login throttle.

import assert from "node:assert/strict";
import { BACKLOG_BATCH } from "../lib/handlers/backlog.ts";
import type { Frame } from "../lib/protocol.ts";
import { type Backend, backendMatrix, matrixTest } from "./support/backends.ts";
import { ManualTimers } from "./support/manual_timers.ts";
import { type RecordingSession, settle, TestCluster, until } from "./support/harness.ts";

const matrix = await backendMatrix();

/** A test on every combination of backends (tests/support/backends.ts). */
function deliveryTest(
  name: string,
  body: (cluster: TestCluster) => Promise<void>,
  pendingCap?: number,
  skip: Partial<Record<string, string>> = {},
) {
  const open = (backend: Backend) => TestCluster.open(backend, pendingCap);
  matrixTest(matrix, "delivery core", name, open, body, skip);
}

const msgs = (frames: unknown) => (frames as { msg: string }[]).map((f) => f.msg);

/** Alice on node-a and Bob on `bobNode`, registered and logged in without receipts. */
async function loggedInPair(c: TestCluster, bobNode = "node-a", bobLogin: Frame = {}) {
  const alice = await c.client();
  const bob = await c.client(bobNode);
  const aliceId = await alice.register("alice");
  const bobId = await bob.register("bob");
  await alice.login(aliceId);
  await bob.login(bobId, "pw", bobLogin);
  return { alice, bob, aliceId, bobId };
}

/** Holds the session's writes under way until the returned function ends them. */
function holdWrites(session: RecordingSession): (written: boolean) => void {
  const { promise, resolve } = Promise.withResolvers<boolean>();
  session.writes = () => promise;
  return (written) => {
    session.writes = () => Promise.resolve(written);
    resolve(written);
  };
}

/** The reply to `request`, and whether it has come yet. */
function tracked(reply: Promise<Record<string, unknown>>) {
  const state = { acked: false, reply };
  reply.then(() => state.acked = true);
  return state;
}

deliveryTest("with receipts, pushes come again at each login until acknowledged", async (c) => {
  const alice = await c.client();
  const bob = await c.client("node-b");
  const aliceId = await alice.register("alice");
  const bobId = await bob.register("bob");
  await alice.login(aliceId);
  await bob.login(bobId, "pw", { receipts: true });
  const first = await alice.request({ msgid: 6, toid: bobId, msg: "one" });
  const second = await alice.request({ msgid: 6, toid: bobId, msg: "two" });
  assert.ok((second.mid as number) > (first.mid as number));
  await settle();
  assert.deepEqual(msgs(bob.pushes()), ["one", "two"]);
  // Bob's connection dies before he acknowledges anything.
  await bob.disconnect();
  const again = await bob.login(bobId, "pw", { receipts: true });
  assert.deepEqual(msgs(again.offlinemsg), ["one", "two"]);
  assert.deepEqual((again.offlinemsg as { mid: number }[]).map((m) => m.mid), [
    first.mid,
    second.mid,
  ]);
  const receipt = await bob.request({ msgid: 13, mids: [first.mid] });
  assert.deepEqual([receipt.msgid, receipt.errno], [11, 0]);
  await bob.request({ msgid: 3 });
  assert.deepEqual(msgs((await bob.login(bobId, "pw", { receipts: true })).offlinemsg), ["two"]);
  await bob.request({ msgid: 13, mids: [second.mid] });
  await bob.request({ msgid: 3 });
  assert.deepEqual((await bob.login(bobId, "pw", { receipts: true })).offlinemsg, []);
});

deliveryTest("without receipts (protocol v1), a written push counts as delivered", async (c) => {
  const { alice, bob, bobId } = await loggedInPair(c);
  await alice.request({ msgid: 6, toid: bobId, msg: "live" });
  await settle();
  await settle();
  assert.deepEqual(msgs(bob.pushes()), ["live"]);
  assert.deepEqual(await c.store.messages.pending(bobId), []);
});

deliveryTest(
  "a v1 recipient on the same node takes the push directly: never pending, ACK after the write",
  async (c) => {
    const { alice, bob, bobId } = await loggedInPair(c);
    const finishWrite = holdWrites(bob.session);
    let acked = false;
    const reply = alice.request({ msgid: 6, toid: bobId, msg: "direct" }).then((response) => {
      acked = true;
      return response;
    });
    await until(() => bob.session.received.length > 0, "bob gets the push");
    assert.deepEqual(msgs(bob.pushes()), ["direct"]);
    await settle();
    assert.equal(acked, false, "no ACK before the push is written");
    assert.deepEqual(await c.store.messages.pending(bobId), [], "not made pending");
    finishWrite(true);
    assert.equal((await reply).errno, 0);
    assert.deepEqual(await c.store.messages.pending(bobId), []);
  },
);

deliveryTest(
  "a direct push whose write fails is made pending and comes at next login",
  async (c) => {
    const { alice, bob, bobId } = await loggedInPair(c);
    bob.session.writes = () => Promise.resolve(false);
    assert.equal((await alice.request({ msgid: 6, toid: bobId, msg: "lost" })).errno, 0);
    assert.deepEqual(msgs(await c.store.messages.pending(bobId)), ["lost"]);
    bob.session.writes = () => Promise.resolve(true);
    await bob.disconnect();
    assert.deepEqual(msgs((await bob.login(bobId)).offlinemsg), ["lost"]);
  },
);

deliveryTest("a direct push slow to be written is made pending until written", async (c) => {
  c.directWriteMs = 20;
  const { alice, bob, bobId } = await loggedInPair(c);
  const finishWrite = holdWrites(bob.session);
  assert.equal((await alice.request({ msgid: 6, toid: bobId, msg: "slow" })).errno, 0);
  assert.deepEqual(msgs(await c.store.messages.pending(bobId)), ["slow"]);
  finishWrite(true);
  await until(async () => (await c.store.messages.pending(bobId)).length === 0, "delivered");
  assert.deepEqual(msgs(bob.pushes()), ["slow"], "pushed once");
});

deliveryTest(
  "a recipient behind on its writes has the message pending until written",
  async (c) => {
    const { alice, bob, bobId } = await loggedInPair(c);
    bob.session.unwrittenBytes = 1 << 20;
    const finishWrite = holdWrites(bob.session);
    assert.equal((await alice.request({ msgid: 6, toid: bobId, msg: "queued" })).errno, 0);
    assert.deepEqual(msgs(await c.store.messages.pending(bobId)), ["queued"]);
    finishWrite(true);
    await until(async () => (await c.store.messages.pending(bobId)).length === 0, "delivered");
  },
);

deliveryTest(
  "a v1 recipient on another node takes the push directly: ACK after their server's report",
  async (c) => {
    const { alice, bob, bobId } = await loggedInPair(c, "node-b");
    const finishWrite = holdWrites(bob.session);
    let acked = false;
    const reply = alice.request({ msgid: 6, toid: bobId, msg: "across" }).then((response) => {
      acked = true;
      return response;
    });
    await until(() => bob.session.received.length > 0, "bob gets the push");
    await settle();
    assert.equal(acked, false, "no ACK before bob's server reports the write");
    assert.deepEqual(await c.store.messages.pending(bobId), [], "not made pending");
    finishWrite(true);
    assert.equal((await reply).errno, 0);
    assert.deepEqual(msgs(bob.pushes()), ["across"]);
    assert.deepEqual(await c.store.messages.pending(bobId), []);
  },
);

deliveryTest(
  "where a recipient on another node is, is asked once, and found again after they move",
  async (c) => {
    let lookups = 0;
    await c.node("node-a", {
      // Every method of the backend's presence as it is (a class's too), locate counted.
      presence: (inner) =>
        new Proxy(inner, {
          get(target, key) {
            const value = Reflect.get(target, key, target);
            if (key === "locate") {
              return (userIds: number[]) => {
                lookups++;
                return target.locate(userIds);
              };
            }
            return typeof value === "function" ? value.bind(target) : value;
          },
        }),
    });
    const { alice, bob, bobId } = await loggedInPair(c, "node-b");
    lookups = 0; // Logging in looked up the friends.
    for (const msg of ["one", "two", "three"]) {
      assert.equal((await alice.request({ msgid: 6, toid: bobId, msg })).errno, 0);
    }
    assert.deepEqual(msgs(bob.pushes()), ["one", "two", "three"]);
    assert.equal(lookups, 1, "node-a remembers that bob is on node-b");
    // Bob moves to node-c: node-a's memory is wrong until the next message proves it so.
    await bob.disconnect();
    const movedBob = await c.client("node-c");
    await movedBob.login(bobId);
    const onNodeC: unknown[] = [];
    const arrived = (count: number) => () => {
      onNodeC.push(...movedBob.pushes());
      return onNodeC.length >= count;
    };
    assert.equal((await alice.request({ msgid: 6, toid: bobId, msg: "four" })).errno, 0);
    await until(arrived(1), "bob gets the message on node-c");
    await until(async () => (await c.store.messages.pending(bobId)).length === 0, "delivered");
    const lookupsAfterMove = lookups;
    for (const msg of ["five", "six"]) {
      assert.equal((await alice.request({ msgid: 6, toid: bobId, msg })).errno, 0);
    }
    await until(arrived(3), "bob gets the next ones");
    assert.deepEqual(msgs(onNodeC), ["four", "five", "six"]);
    assert.equal(lookups, lookupsAfterMove + 1, "node-a now remembers node-c");
    assert.deepEqual(await c.store.messages.pending(bobId), [], "taken directly");
  },
);

deliveryTest("without a report in time the message is made pending and routed", async (c) => {
  c.directReportMs = 20;
  await c.node("node-b", {
    // Node b's reports never arrive.
    bus: (inner) => ({
      ...inner,
      subscribe: (nodeId, handler) => inner.subscribe(nodeId, handler),
      publish: (nodeId, message) =>
        "reports" in message ? Promise.resolve(true) : inner.publish(nodeId, message),
      close: () => inner.close(),
    }),
  });
  const { alice, bob, bobId } = await loggedInPair(c, "node-b");
  assert.equal((await alice.request({ msgid: 6, toid: bobId, msg: "unreported" })).errno, 0);
  await until(async () => (await c.store.messages.pending(bobId)).length === 0, "delivered");
  // Taken directly, then routed again once pending: at least once, duplicates dropped by mid.
  assert.deepEqual(msgs(bob.pushes()), ["unreported", "unreported"]);
});

deliveryTest("a retried message is made pending again for who cannot take it now", async (c) => {
  const { alice, bob, bobId } = await loggedInPair(c);
  const request = { msgid: 6, toid: bobId, msg: "retried", key: "k-1" };
  const first = await alice.request(request);
  assert.deepEqual(msgs(bob.pushes()), ["retried"]);
  await bob.disconnect();
  // As if the server had died between storing the message and writing the push.
  const retry = await alice.request(request);
  assert.deepEqual([retry.errno, retry.mid], [0, first.mid]);
  assert.deepEqual(msgs((await bob.login(bobId)).offlinemsg), ["retried"]);
});

deliveryTest("receipts are checked and only clear the receiver's own messages", async (c) => {
  const alice = await c.client();
  const aliceId = await alice.register("alice");
  const bobId = await alice.register("bob");
  await alice.login(aliceId);
  const { mid } = await alice.request({ msgid: 6, toid: bobId, msg: "for bob" });
  for (const mids of [undefined, [], [0], ["1"], [1.5], new Array(1001).fill(1)]) {
    assert.equal((await alice.request({ msgid: 13, mids })).errno, 3, JSON.stringify(mids));
  }
  assert.equal((await alice.request({ msgid: 13, mids: [mid] })).errno, 0);
  assert.equal((await c.store.messages.pending(bobId)).length, 1, "alice cannot clear bob's");
});

deliveryTest("a retried request with the same key is stored and counted once", async (c) => {
  const alice = await c.client();
  const aliceId = await alice.register("alice");
  const bobId = await alice.register("bob");
  await alice.login(aliceId);
  const request = { msgid: 6, toid: bobId, msg: "exactly once", key: "retry-1" };
  const first = await alice.request(request);
  const retry = await alice.request(request);
  assert.equal(retry.errno, 0);
  assert.equal(retry.mid, first.mid);
  assert.equal(retry.time, first.time);
  assert.equal((await c.store.messages.pending(bobId)).length, 1);
  const other = await alice.request({ ...request, key: "retry-2" });
  assert.notEqual(other.mid, first.mid);
  assert.equal((await alice.request({ ...request, key: "k".repeat(65) })).errno, 3);
  assert.equal((await alice.request({ ...request, key: 7 })).errno, 3);
});

deliveryTest(
  "a key reused for another recipient never sends them the earlier message",
  async (c) => {
    const alice = await c.client();
    const bob = await c.client();
    const carol = await c.client();
    const aliceId = await alice.register("alice");
    const bobId = await bob.register("bob");
    const carolId = await carol.register("carol");
    await alice.login(aliceId);
    await bob.login(bobId, "pw", { receipts: true });
    await carol.login(carolId, "pw", { receipts: true });
    const first = await alice.request({ msgid: 6, toid: bobId, msg: "for bob", key: "same" });
    const reused = await alice.request({ msgid: 6, toid: carolId, msg: "for carol", key: "same" });
    assert.equal(reused.mid, first.mid, "the key names the first message");
    await settle();
    assert.deepEqual(msgs(bob.pushes()), ["for bob", "for bob"], "pushed again to its recipient");
    assert.deepEqual(carol.pushes(), []);
    assert.deepEqual(await c.store.messages.pending(carolId), []);
  },
);

deliveryTest("a long backlog comes in batches after the login ACK", async (c) => {
  const alice = await c.client();
  const bob = await c.client();
  const aliceId = await alice.register("alice");
  const bobId = await bob.register("bob");
  await alice.login(aliceId);
  const total = BACKLOG_BATCH * 2 + 7;
  for (let i = 0; i < total; i++) await alice.request({ msgid: 6, toid: bobId, msg: `m${i}` });
  const view = await bob.login(bobId);
  assert.equal((view.offlinemsg as unknown[]).length, BACKLOG_BATCH);
  assert.equal(view.offlinemore, total - BACKLOG_BATCH);
  const rest = bob.pushes();
  assert.deepEqual(
    [...msgs(view.offlinemsg), ...msgs(rest)],
    Array.from({ length: total }, (_, i) => `m${i}`),
  );
  assert.deepEqual(await c.store.messages.pending(bobId), [], "v1 client: all delivered");
});

deliveryTest("past the pending cap the oldest are dropped and the user is told", async (c) => {
  const alice = await c.client();
  const bob = await c.client();
  const aliceId = await alice.register("alice");
  const bobId = await bob.register("bob");
  await alice.login(aliceId);
  for (let i = 1; i <= 5; i++) await alice.request({ msgid: 6, toid: bobId, msg: `m${i}` });
  const view = await bob.login(bobId);
  assert.deepEqual(msgs(view.offlinemsg), ["m3", "m4", "m5"]);
  assert.equal(view.offlinedropped, 2);
}, 3);

deliveryTest("history pages a conversation by mid, for its members only", async (c) => {
  const alice = await c.client();
  const bob = await c.client();
  const aliceId = await alice.register("alice");
  const bobId = await bob.register("bob");
  const carolId = await bob.register("carol");
  await alice.login(aliceId);
  await bob.login(bobId);
  for (let i = 1; i <= 5; i++) {
    await (i % 2 ? alice : bob).request({
      msgid: 6,
      toid: i % 2 ? bobId : aliceId,
      msg: `h${i}`,
    });
  }
  const page = await alice.request({ msgid: 14, peer: bobId, limit: 3 });
  assert.equal(page.errno, 0);
  assert.deepEqual(msgs(page.messages), ["h3", "h4", "h5"]);
  const firstMid = (page.messages as { mid: number }[])[0].mid;
  const older = await alice.request({ msgid: 14, peer: bobId, before: firstMid });
  assert.deepEqual(msgs(older.messages), ["h1", "h2"]);
  const { groupid } = await alice.request({ msgid: 8, groupname: "g" });
  await alice.request({ msgid: 10, groupid, msg: "in group" });
  assert.equal((await bob.request({ msgid: 14, groupid })).errno, 6, "not a member");
  await bob.request({ msgid: 9, groupid });
  assert.deepEqual(msgs((await bob.request({ msgid: 14, groupid })).messages), ["in group"]);
  assert.equal((await bob.request({ msgid: 14, groupid: 999 })).errno, 5);
  assert.equal((await bob.request({ msgid: 14, peer: 999 })).errno, 5);
  assert.deepEqual((await bob.request({ msgid: 14, peer: carolId })).messages, []);
  for (const bad of [{}, { peer: 1, groupid: 1 }, { peer: bobId, limit: 101 }, { peer: "x" }]) {
    assert.equal((await bob.request({ msgid: 14, ...bad })).errno, 3, JSON.stringify(bad));
  }
});

deliveryTest("ping answers before and after login", async (c) => {
  const client = await c.client();
  assert.deepEqual(await client.request({ msgid: 15 }), { msgid: 11, seq: 1, errno: 0 });
});

deliveryTest("a connection over its request rate gets errno 8 and nothing is done", async (c) => {
  const client = await c.client();
  client.session.admitting = false;
  const refused = await client.request({ msgid: 4, name: "flood", password: "pw" });
  assert.deepEqual([refused.msgid, refused.errno], [5, 8]);
  assert.equal((await client.request({ msgid: 99 })).errno, 8);
  assert.equal(await c.store.users.findByName("flood"), null);
});

deliveryTest("repeated wrong passwords lock the account for a while", async (c) => {
  const client = await c.client();
  const id = await client.register("target", "right");
  for (let i = 0; i < 5; i++) assert.equal((await client.login(id, "wrong")).errno, 1);
  assert.equal((await client.login(id, "right")).errno, 8, "even the right password waits");
  assert.equal((await client.request({ msgid: 1, name: "target", password: "x" })).errno, 1);
  c.time = new Date(c.time.getTime() + 61_000);
  assert.equal((await client.login(id, "right")).errno, 0);
});

deliveryTest(
  "a group push sorts each member by how its write went: in time, failed, or late",
  async (c) => {
    c.directWriteMs = 20;
    const owner = await c.client();
    const ownerId = await owner.register("owner");
    await owner.login(ownerId);
    const groupid = (await owner.request({ msgid: 8, groupname: "g", groupdesc: "" }))
      .groupid as number;
    const members = new Map<string, { client: typeof owner; id: number }>();
    for (const name of ["fast", "failing", "slow"]) {
      const client = await c.client();
      const id = await client.register(name);
      await client.login(id);
      assert.equal((await client.request({ msgid: 9, groupid })).errno, 0);
      members.set(name, { client, id });
    }
    const fast = members.get("fast")!;
    const failing = members.get("failing")!;
    const slow = members.get("slow")!;
    failing.client.session.writes = () => Promise.resolve(false);
    const finishSlow = holdWrites(slow.client.session);

    assert.equal((await owner.request({ msgid: 10, groupid, msg: "to all" })).errno, 0);
    assert.deepEqual(await c.store.messages.pending(fast.id), [], "written in time");
    assert.deepEqual(msgs(await c.store.messages.pending(failing.id)), ["to all"], "failed");
    assert.deepEqual(msgs(await c.store.messages.pending(slow.id)), ["to all"], "late");

    finishSlow(true);
    await until(async () => (await c.store.messages.pending(slow.id)).length === 0, "slow done");
    assert.deepEqual(msgs(await c.store.messages.pending(failing.id)), ["to all"]);
    assert.deepEqual(msgs(fast.client.pushes()), ["to all"]);
    assert.deepEqual(msgs(slow.client.pushes()), ["to all"], "pushed once");
  },
);

deliveryTest(
  "a recipient that stops reading holds up one send by the write deadline, then no sender at all",
  async (c) => {
    const timers = c.timers = new ManualTimers();
    const { alice, bob, bobId } = await loggedInPair(c);
    const carol = await c.client();
    await carol.login(await carol.register("carol"));
    const finishWrites = holdWrites(bob.session);

    const first = tracked(alice.request({ msgid: 6, toid: bobId, msg: "first" }));
    await until(() => bob.session.received.length > 0, "bob gets the push");
    await settle();
    assert.equal(first.acked, false, "waits for the write, up to the deadline");
    assert.equal(timers.waiting, 1);
    timers.fire();
    assert.equal((await first.reply).errno, 0);
    assert.deepEqual(msgs(await c.store.messages.pending(bobId)), ["first"], "late: pending");

    // Bob is late now: nobody waits on his writes, whoever sends and however long he takes.
    for (const [sender, msg] of [[carol, "second"], [alice, "third"]] as const) {
      const next = tracked(sender.request({ msgid: 6, toid: bobId, msg }));
      await until(() => next.acked, `the ACK of "${msg}" without any time passing`);
      assert.equal((await next.reply).errno, 0);
    }
    assert.equal(timers.waiting, 0, "no deadline started for a late session");
    assert.deepEqual(msgs(await c.store.messages.pending(bobId)), ["first", "second", "third"]);
    assert.deepEqual(msgs(bob.pushes()), ["first", "second", "third"], "all queued to him");

    // His writes go through: every push counts as delivered, and he takes pushes directly again.
    finishWrites(true);
    await until(async () => (await c.store.messages.pending(bobId)).length === 0, "delivered");
    assert.equal((await alice.request({ msgid: 6, toid: bobId, msg: "fourth" })).errno, 0);
    assert.deepEqual(await c.store.messages.pending(bobId), [], "taken directly again");
    assert.deepEqual(msgs(bob.pushes()), ["fourth"]);
  },
);

deliveryTest(
  "a recipient on another node that stops reading holds up no sender once it is late there",
  async (c) => {
    const timers = c.timers = new ManualTimers();
    const { alice, bob, bobId } = await loggedInPair(c, "node-b");
    const finishWrites = holdWrites(bob.session);

    const first = tracked(alice.request({ msgid: 6, toid: bobId, msg: "first" }));
    await until(() => bob.session.received.length > 0, "bob gets the push");
    await settle();
    assert.equal(first.acked, false, "waits for node-b's report of the write");
    // Node-b's write deadline (and node-a's wait for the report) pass: node-b reports a miss.
    timers.fire();
    assert.equal((await first.reply).errno, 0);
    assert.deepEqual(msgs(await c.store.messages.pending(bobId)), ["first"]);

    const second = tracked(alice.request({ msgid: 6, toid: bobId, msg: "second" }));
    await until(() => second.acked, "the ACK without any time passing");
    assert.equal((await second.reply).errno, 0);
    assert.deepEqual(msgs(await c.store.messages.pending(bobId)), ["first", "second"]);
    await until(() => bob.session.received.length >= 2, "bob gets the second push too");

    finishWrites(true);
    await until(async () => (await c.store.messages.pending(bobId)).length === 0, "delivered");
  },
);

/** Node-a, counting the envelopes it publishes asking for a report (direct tries). */
async function countingDirectTries(c: TestCluster): Promise<{ tries: number }> {
  const counter = { tries: 0 };
  await c.node("node-a", {
    bus: (inner) => ({
      ...inner,
      subscribe: (nodeId, handler) => inner.subscribe(nodeId, handler),
      publish: (nodeId, message) => {
        if ("reply" in message && message.reply) counter.tries++;
        return inner.publish(nodeId, message);
      },
      close: () => inner.close(),
    }),
  });
  return counter;
}

deliveryTest(
  "a receipts recipient on another node takes pushes directly on its cursor: pending only if never confirmed",
  async (c) => {
    const direct = await countingDirectTries(c);
    const { alice, bob, bobId } = await loggedInPair(c, "node-b", { receipts: true });
    for (const msg of ["one", "two", "three"]) {
      assert.equal((await alice.request({ msgid: 6, toid: bobId, msg })).errno, 0);
    }
    await until(() => bob.session.received.length >= 3, "bob gets every push");
    const pushes = bob.pushes();
    assert.deepEqual(msgs(pushes), ["one", "two", "three"]);
    assert.equal(direct.tries, 3, "every message went the direct way");
    assert.deepEqual(await c.store.messages.pending(bobId), [], "no pending row");
    const [one, two] = pushes.map((push) => push.mid);
    assert.equal((await bob.request({ msgid: 13, mids: [one, two] })).errno, 0);
    assert.equal((await bob.request({ msgid: 3 })).errno, 0, "logout");
    assert.deepEqual(msgs(await c.store.messages.pending(bobId)), ["three"], "never confirmed");
  },
);

deliveryTest(
  "a recipient on another node behind on its writes is asked directly once, then routed the pending way",
  async (c) => {
    const direct = await countingDirectTries(c);
    const { alice, bob, bobId } = await loggedInPair(c, "node-b");
    bob.session.unwrittenBytes = 1024 * 1024;
    for (const msg of ["one", "two", "three"]) {
      assert.equal((await alice.request({ msgid: 6, toid: bobId, msg })).errno, 0);
    }
    await until(() => bob.session.received.length >= 3, "bob gets every push");
    assert.deepEqual(msgs(bob.pushes()), ["one", "two", "three"]);
    assert.equal(direct.tries, 1, "node-b declined once; node-a remembers");
  },
);
