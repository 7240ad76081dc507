// The roster's ordering rules: FriendStates (which presence event wins) and the Roster's holding
// of updates while a user logs in, fed with events as other servers would send them, in any order.

import assert from "node:assert/strict";
import { FriendStates } from "../lib/roster/friend_states.ts";
import { presencePush } from "../lib/roster/updates.ts";
import { settle, TestCluster } from "./support/harness.ts";

Deno.test("friend states: an event about an older session than the one known is stale", () => {
  const friends = new FriendStates();
  friends.set(2, "bob", null, 0);
  assert.equal(friends.apply(2, "online", { node: "b", epoch: 7 }), true);
  assert.equal(friends.apply(2, "offline", { node: "a", epoch: 6 }), false, "older session");
  assert.equal(friends.get(2)?.node, "b");
  assert.equal(friends.apply(2, "offline", { node: "b", epoch: 7 }), true);
  assert.equal(friends.apply(2, "online", { node: "b", epoch: 7 }), false, "online after offline");
  assert.equal(friends.get(2)?.node, null);
  assert.equal(friends.apply(3, "online", { node: "b", epoch: 1 }), false, "not a friend");
});

Deno.test("friend states: a change is shown once, and only when it differs", () => {
  const friends = new FriendStates();
  friends.set(2, "bob", "a", 4);
  assert.equal(friends.takeChange(2), undefined);
  friends.apply(2, "offline", { node: "a", epoch: 4 });
  friends.apply(2, "online", { node: "b", epoch: 5 });
  assert.equal(friends.takeChange(2), undefined, "offline then online: nothing new to show");
  friends.apply(2, "offline", { node: "b", epoch: 5 });
  assert.equal(friends.takeChange(2), "offline");
  assert.equal(friends.takeChange(2), undefined);
});

Deno.test("friend states: a friend lapses only if still known in that session on that node", () => {
  const friends = new FriendStates();
  friends.set(2, "bob", "a", 4);
  friends.set(3, "carol", "a", 9);
  assert.deepEqual(friends.onNode("a"), [{ id: 2, epoch: 4 }, { id: 3, epoch: 9 }]);
  friends.apply(3, "online", { node: "b", epoch: 10 });
  assert.equal(friends.lapse(2, "a", 4), true);
  assert.equal(friends.lapse(3, "a", 9), false, "carol moved on");
  assert.equal(friends.lapse(2, "a", 4), false, "already offline");
  assert.deepEqual(friends.online(), new Map([[3, "b"]]));
});

Deno.test("roster: presence events arriving out of order leave the true state shown", async () => {
  const c = new TestCluster();
  try {
    const bob = await c.client("node-a");
    const alice = await c.client("node-a");
    const bobId = await bob.register("bob");
    const aliceId = await alice.register("alice");
    await bob.login(bobId);
    await bob.request({ msgid: 7, friendid: aliceId });
    const roster = bob.deps.roster;
    const send = (state: "online" | "offline", node: string, epoch: number) =>
      roster.receive({
        to: [bobId],
        event: presencePush(aliceId, "alice", state),
        subject: { node, epoch },
      });
    // Alice reconnects from node-x (session 6) to node-y (session 7); node-x's word comes late.
    send("online", "node-x", 6);
    send("online", "node-y", 7);
    send("offline", "node-x", 6);
    await settle();
    assert.deepEqual(bob.updates(), [presencePush(aliceId, "alice", "online")]);
    send("offline", "node-y", 7);
    send("online", "node-y", 7);
    assert.deepEqual(bob.updates(), [presencePush(aliceId, "alice", "offline")]);
  } finally {
    await c.close();
  }
});

Deno.test("roster: updates for a user logging in wait for the login reply", async () => {
  const c = new TestCluster();
  try {
    const bob = await c.client("node-a");
    const bobId = await bob.register("bob");
    const aliceId = await bob.register("alice");
    await bob.login(bobId);
    await bob.request({ msgid: 7, friendid: aliceId });
    await bob.request({ msgid: 3 });
    const roster = bob.deps.roster;
    const session = bob.session;
    session.user = { id: bobId, name: "bob" };
    roster.begin(session.user, session);
    await roster.takeEpoch(bobId, session);
    const stamp = { node: "node-x", epoch: 1e6 };
    roster.receive({
      to: [bobId],
      event: presencePush(aliceId, "alice", "online"),
      subject: stamp,
    });
    const friends = await roster.online(
      bobId,
      session,
      [{ id: aliceId, name: "alice" }],
      new Map(),
    );
    assert.deepEqual(friends, [{ id: aliceId, name: "alice", state: "online" }], "merged");
    roster.receive({
      to: [bobId],
      event: presencePush(aliceId, "alice", "offline"),
      subject: stamp,
    });
    roster.receive({ to: [bobId], event: { msgid: 18, event: "friend_removed", id: 99 } });
    assert.deepEqual(bob.updates(), [], "nothing before the reply");
    roster.release(bobId, session);
    assert.deepEqual(bob.updates(), [
      presencePush(aliceId, "alice", "offline"),
      { msgid: 18, event: "friend_removed", id: 99 },
    ]);
  } finally {
    await c.close();
  }
});
