// The delivery guarantee in the chat core, without sockets: mids, receipts, redelivery until
// acknowledged, idempotency keys, the pending cap, history, ping, rate limit and login throttle.

import assert from "node:assert/strict";
import { BACKLOG_BATCH } from "../lib/handlers/backlog.ts";
import { settle, TestCluster } from "./support/harness.ts";

function deliveryTest(
  name: string,
  body: (cluster: TestCluster) => Promise<void>,
  pendingCap?: number,
) {
  Deno.test(`delivery core: ${name}`, async () => {
    const cluster = new TestCluster(pendingCap);
    try {
      await body(cluster);
    } finally {
      await cluster.close();
    }
  });
}

const msgs = (frames: unknown) => (frames as { msg: string }[]).map((f) => f.msg);

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
  const alice = await c.client();
  const bob = await c.client();
  const aliceId = await alice.register("alice");
  const bobId = await bob.register("bob");
  await alice.login(aliceId);
  await bob.login(bobId);
  await alice.request({ msgid: 6, toid: bobId, msg: "live" });
  await settle();
  await settle();
  assert.deepEqual(msgs(bob.pushes()), ["live"]);
  assert.deepEqual(await c.store.messages.pending(bobId), []);
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
