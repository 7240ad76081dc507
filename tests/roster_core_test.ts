// The live roster in the chat core, without sockets, across nodes of an in-process cluster:
// presence pushes at login, logout, lost connections and node death; roster pushes for friends
// added and removed and members joining and leaving; REMOVE_FRIEND and LEAVE_GROUP with their
// errno values and what the ACKs carry.

import assert from "node:assert/strict";
import { settle, type TestClient, TestCluster } from "./support/harness.ts";

function rosterTest(name: string, body: (cluster: TestCluster) => Promise<void>) {
  Deno.test(`roster core: ${name}`, async () => {
    const cluster = new TestCluster();
    try {
      await body(cluster);
    } finally {
      await cluster.close();
    }
  });
}

/** Registered users, one client each, on the given nodes (not logged in). */
async function users(c: TestCluster, nodes: Record<string, string>) {
  const clients: Record<string, TestClient> = {};
  const ids: Record<string, number> = {};
  for (const [name, node] of Object.entries(nodes)) {
    clients[name] = await c.client(node);
    ids[name] = await clients[name].register(name);
  }
  return { clients, ids };
}

async function loginOk(client: TestClient, id: number) {
  const reply = await client.login(id);
  assert.equal(reply.errno, 0, JSON.stringify(reply));
  return reply;
}

const presence = (id: number, name: string, state: string) => ({ msgid: 17, id, name, state });

rosterTest("friends online anywhere see a user come and go; nobody else does", async (c) => {
  const { clients, ids } = await users(c, { alice: "node-a", bob: "node-b", carol: "node-a" });
  const { alice, bob, carol } = clients;
  await loginOk(bob, ids.bob);
  await loginOk(carol, ids.carol);
  await loginOk(alice, ids.alice);
  await carol.request({ msgid: 7, friendid: ids.alice });
  await bob.request({ msgid: 7, friendid: ids.alice });
  await settle();
  alice.updates();
  bob.updates();
  carol.updates();

  await alice.request({ msgid: 3 });
  await settle();
  assert.deepEqual(bob.updates(), [presence(ids.alice, "alice", "offline")]);
  assert.deepEqual(carol.updates(), [presence(ids.alice, "alice", "offline")]);
  assert.deepEqual(alice.updates(), [], "never about oneself");

  const view = await loginOk(alice, ids.alice);
  assert.deepEqual(view.friends, [
    { id: ids.bob, name: "bob", state: "online" },
    { id: ids.carol, name: "carol", state: "online" },
  ]);
  await settle();
  assert.deepEqual(bob.updates(), [presence(ids.alice, "alice", "online")]);
  assert.deepEqual(carol.updates(), [presence(ids.alice, "alice", "online")]);
  assert.deepEqual(alice.updates(), []);

  await bob.disconnect();
  await settle();
  assert.deepEqual(alice.updates(), [presence(ids.bob, "bob", "offline")]);
  assert.deepEqual(carol.updates(), [], "carol and bob are not friends");
});

rosterTest("friend_added and friend_removed reach the other user on another node", async (c) => {
  const { clients, ids } = await users(c, { alice: "node-a", bob: "node-b", carol: "node-b" });
  const { alice, bob } = clients;
  await loginOk(alice, ids.alice);
  await loginOk(bob, ids.bob);
  const added = await alice.request({ msgid: 7, friendid: ids.bob });
  assert.deepEqual(added.friend, { id: ids.bob, name: "bob", state: "online" });
  const offlineFriend = await alice.request({ msgid: 7, friendid: ids.carol });
  assert.deepEqual(offlineFriend.friend, { id: ids.carol, name: "carol", state: "offline" });
  await settle();
  assert.deepEqual(bob.updates(), [{
    msgid: 18,
    event: "friend_added",
    friend: { id: ids.alice, name: "alice", state: "online" },
  }]);
  assert.deepEqual(alice.updates(), []);

  // Both now follow each other's presence.
  await loginOk(clients.carol, ids.carol);
  await settle();
  assert.deepEqual(alice.updates(), [presence(ids.carol, "carol", "online")]);

  const removed = await bob.request({ msgid: 19, friendid: ids.alice });
  assert.equal(removed.msgid, 11);
  assert.equal(removed.errno, 0);
  await settle();
  assert.deepEqual(alice.updates(), [{ msgid: 18, event: "friend_removed", id: ids.bob }]);
  assert.equal((await bob.request({ msgid: 19, friendid: ids.alice })).errno, 5);
  assert.equal((await bob.request({ msgid: 19, friendid: 9999 })).errno, 5);
  assert.equal((await bob.request({ msgid: 19 })).errno, 3);

  // No more presence between them; chat stays allowed.
  await bob.request({ msgid: 3 });
  await settle();
  assert.deepEqual(alice.updates(), []);
  assert.equal((await alice.request({ msgid: 6, toid: ids.bob, msg: "still there?" })).errno, 0);
});

rosterTest(
  "member_joined and member_left reach the other members; creator passes on",
  async (c) => {
    const { clients, ids } = await users(c, {
      owner: "node-a",
      bob: "node-b",
      carol: "node-a",
      dave: "node-b",
    });
    const { owner, bob, carol, dave } = clients;
    for (const name of ["owner", "bob", "carol", "dave"]) await loginOk(clients[name], ids[name]);
    const groupid = (await owner.request({ msgid: 8, groupname: "devs" })).groupid as number;
    const joined = await bob.request({ msgid: 9, groupid });
    assert.deepEqual(joined.group, {
      id: groupid,
      groupname: "devs",
      groupdesc: "",
      users: [
        { id: ids.owner, name: "owner", role: "creator", state: "online" },
        { id: ids.bob, name: "bob", role: "normal", state: "online" },
      ],
    });
    await settle();
    const bobJoined = {
      msgid: 18,
      event: "member_joined",
      groupid,
      user: { id: ids.bob, name: "bob", state: "online", role: "normal" },
    };
    assert.deepEqual(owner.updates(), [bobJoined]);
    assert.deepEqual(bob.updates(), []);
    await carol.request({ msgid: 9, groupid });
    await settle();
    owner.updates();
    bob.updates();

    assert.equal((await dave.request({ msgid: 20, groupid })).errno, 6, "not a member");
    assert.equal((await dave.request({ msgid: 20, groupid: 999 })).errno, 5, "no such group");
    const left = await owner.request({ msgid: 20, groupid });
    assert.equal(left.errno, 0);
    await settle();
    const ownerLeft = { msgid: 18, event: "member_left", groupid, id: ids.owner, creator: ids.bob };
    assert.deepEqual(bob.updates(), [ownerLeft]);
    assert.deepEqual(carol.updates(), [ownerLeft]);
    assert.deepEqual(owner.updates(), []);

    // The one who left gets none of the group's messages and may not send to it.
    assert.equal((await owner.request({ msgid: 10, groupid, msg: "hello?" })).errno, 6);
    assert.equal((await carol.request({ msgid: 10, groupid, msg: "bye owner" })).errno, 0);
    await settle();
    assert.deepEqual(owner.pushes(), []);
    assert.equal(bob.pushes().length, 1);

    await carol.request({ msgid: 20, groupid });
    await settle();
    assert.deepEqual(bob.updates(), [{ msgid: 18, event: "member_left", groupid, id: ids.carol }]);
  },
);

rosterTest("a group whose last member left is kept; its next member is creator", async (c) => {
  const { clients, ids } = await users(c, { owner: "node-a", next: "node-b" });
  await loginOk(clients.owner, ids.owner);
  await loginOk(clients.next, ids.next);
  const groupid = (await clients.owner.request({ msgid: 8, groupname: "solo" })).groupid;
  assert.equal((await clients.owner.request({ msgid: 20, groupid })).errno, 0);
  assert.equal((await clients.owner.request({ msgid: 10, groupid, msg: "x" })).errno, 6);
  assert.equal((await clients.owner.request({ msgid: 8, groupname: "solo" })).errno, 6);
  const joined = await clients.next.request({ msgid: 9, groupid });
  assert.deepEqual((joined.group as { users: unknown[] }).users, [
    { id: ids.next, name: "next", role: "creator", state: "online" },
  ]);
});

rosterTest("when a node dies, its users' friends elsewhere see them offline", async (c) => {
  const { clients, ids } = await users(c, { alice: "node-a", bob: "node-b", carol: "node-b" });
  const { alice, bob, carol } = clients;
  await loginOk(alice, ids.alice);
  await loginOk(bob, ids.bob);
  await loginOk(carol, ids.carol);
  await alice.request({ msgid: 7, friendid: ids.bob });
  await alice.request({ msgid: 7, friendid: ids.carol });
  await carol.request({ msgid: 3 });
  await settle();
  alice.updates();

  c.cluster.kill("node-b");
  await settle();
  await settle();
  assert.deepEqual(alice.updates(), [presence(ids.bob, "bob", "offline")]);
});

rosterTest(
  "a friend who moved to another node is not marked offline by the old one's death",
  async (c) => {
    const { clients, ids } = await users(c, { alice: "node-a", bob: "node-b", carol: "node-b" });
    const { alice } = clients;
    await loginOk(alice, ids.alice);
    await loginOk(clients.bob, ids.bob);
    await loginOk(clients.carol, ids.carol);
    await alice.request({ msgid: 7, friendid: ids.bob });
    await alice.request({ msgid: 7, friendid: ids.carol });
    await clients.bob.disconnect();
    const bobAgain = await c.client("node-c");
    await loginOk(bobAgain, ids.bob);
    await settle();
    assert.deepEqual(alice.updates(), [
      presence(ids.bob, "bob", "offline"),
      presence(ids.bob, "bob", "online"),
    ]);
    c.cluster.kill("node-b");
    await settle();
    await settle();
    assert.deepEqual(alice.updates(), [presence(ids.carol, "carol", "offline")]);
  },
);
