// The chat core through the dispatcher, without sockets: every request of protocol v1 with its
// semantics and errno values, on one node and across nodes, on every combination of store
// (SQLite file, MariaDB) and cluster (in-process, Redis).

import assert from "node:assert/strict";
import { dispatch } from "../lib/dispatcher.ts";
import { backendMatrix, matrixTest } from "./support/backends.ts";
import { settle, TestCluster } from "./support/harness.ts";

const matrix = await backendMatrix();

/** A test on every combination of backends, except those `skip` names with a reason. */
function chatTest(
  name: string,
  body: (cluster: TestCluster) => Promise<void>,
  skip: Partial<Record<string, string>> = {},
) {
  matrixTest(matrix, "chat core", name, (backend) => TestCluster.open(backend), body, skip);
}

chatTest("register answers REG_MSG_ACK with a new id; a taken name is errno 6", async (c) => {
  const client = await c.client();
  const first = await client.request({ msgid: 4, name: "alice", password: "secret" });
  assert.equal(first.msgid, 5);
  assert.equal(first.errno, 0);
  assert.equal(typeof first.id, "number");
  const taken = await client.request({ msgid: 4, name: "alice", password: "other" });
  assert.equal(taken.msgid, 5);
  assert.equal(taken.errno, 6);
  assert.equal(typeof taken.errmsg, "string");
});

chatTest("register validates name and password", async (c) => {
  const client = await c.client();
  const bad = [
    {},
    { name: "bob" },
    { name: "", password: "pw" },
    { name: "x".repeat(51), password: "pw" },
    { name: 42, password: "pw" },
    { name: "bob", password: "" },
    { name: "bob", password: "p".repeat(129) },
    { name: "bob", password: ["pw"] },
    { name: "12345", password: "pw" },
    { name: "evil\u001b[2J", password: "pw" },
  ];
  for (const fields of bad) {
    const response = await client.request({ msgid: 4, ...fields });
    assert.equal(response.errno, 3, JSON.stringify(fields));
  }
  const longest = await client.request({
    msgid: 4,
    name: "名".repeat(50),
    password: "p".repeat(128),
  });
  assert.equal(longest.errno, 0);
});

chatTest("passwords are stored only as salted hashes", async (c) => {
  const client = await c.client();
  const id = await client.register("hashme", "plain-secret");
  const stored = await c.store.users.findById(id);
  assert.ok(stored && !stored.passwordHash.includes("plain-secret"));
  assert.match(stored.passwordHash, /^scrypt\$/);
});

chatTest(
  "login by id or by name returns the user's view; wrong credentials are errno 1",
  async (c) => {
    const client = await c.client();
    const id = await client.register("alice", "pw");
    assert.equal((await client.request({ msgid: 1, id, password: "nope" })).errno, 1);
    assert.equal((await client.request({ msgid: 1, id: 999, password: "pw" })).errno, 1);
    assert.equal((await client.request({ msgid: 1, name: "nobody", password: "pw" })).errno, 1);
    assert.equal((await client.request({ msgid: 1, password: "pw" })).errno, 3);
    assert.equal((await client.request({ msgid: 1, id: "1", password: "pw" })).errno, 3);
    const ok = await client.request({ msgid: 1, name: "alice", password: "pw" });
    assert.deepEqual(ok, {
      msgid: 2,
      seq: ok.seq,
      errno: 0,
      id,
      name: "alice",
      node: "node-a",
      token: ok.token,
      friends: [],
      groups: [],
      offlinemsg: [],
      offlinemore: 0,
      offlinedropped: 0,
    });
    assert.match(String(ok.token), /^[A-Za-z0-9_-]{43}$/, "256 random bits, base64url");
  },
);

chatTest("a user is online at most once, across nodes; logout frees them", async (c) => {
  const first = await c.client("node-a");
  const id = await first.register("alice");
  assert.equal((await first.login(id)).errno, 0);
  assert.equal((await first.login(id)).errno, 2, "same connection");
  const elsewhere = await c.client("node-b");
  assert.equal((await elsewhere.login(id)).errno, 2, "other node");
  assert.equal((await first.request({ msgid: 3 })).errno, 0);
  assert.equal((await first.request({ msgid: 3 })).errno, 4, "already logged out");
  assert.equal((await elsewhere.login(id)).errno, 0);
});

chatTest("a dropped connection marks the user offline at once", async (c) => {
  const first = await c.client();
  const id = await first.register("alice");
  await first.login(id);
  await first.disconnect();
  const again = await c.client();
  assert.equal((await again.login(id)).errno, 0);
});

chatTest("everything but register and login answers errno 4 before login", async (c) => {
  const client = await c.client();
  const requests = [
    { msgid: 3 },
    { msgid: 6, toid: 1, msg: "hi" },
    { msgid: 7, friendid: 1 },
    { msgid: 8, groupname: "g" },
    { msgid: 9, groupid: 1 },
    { msgid: 10, groupid: 1, msg: "hi" },
  ];
  for (const request of requests) {
    const response = await client.request(request);
    assert.equal(response.msgid, 11);
    assert.equal(response.errno, 4, JSON.stringify(request));
  }
});

chatTest("unknown or missing msgid is an ERROR frame echoing seq; bad seq too", async (c) => {
  const client = await c.client();
  const unknown = await client.request({ msgid: 77 });
  assert.equal(unknown.msgid, 12);
  assert.equal(unknown.errno, 3);
  assert.equal(unknown.errmsg, "bad request: unknown msgid 77");
  assert.equal((await client.request({ msgid: 2 })).msgid, 12, "server-to-client msgid");
  const text = await client.request({ msgid: "1" });
  assert.equal(text.msgid, 12);
  assert.equal(text.errmsg, 'bad request: unknown msgid "1"');
  // JSON.parse reads 1e400 as Infinity, which JSON.stringify would print as null.
  const overflow = await client.request({ msgid: Infinity });
  assert.equal(overflow.errmsg, "bad request: unknown msgid Infinity");
  assert.equal((await client.request({ nothing: true })).msgid, 12);
  const { dispatch } = await import("../lib/dispatcher.ts");
  await dispatch(client.session, { msgid: 4, seq: "x" }, client.deps);
  const [badSeq] = client.session.take();
  assert.equal(badSeq.msgid, 12);
  assert.equal(badSeq.errno, 3);
  assert.equal(badSeq.seq, undefined);
});

chatTest("friends are mutual and show cluster-wide presence", async (c) => {
  const alice = await c.client("node-a");
  const bob = await c.client("node-b");
  const aliceId = await alice.register("alice");
  const bobId = await bob.register("bob");
  await alice.login(aliceId);
  assert.equal((await alice.request({ msgid: 7, friendid: aliceId })).errno, 3);
  assert.equal((await alice.request({ msgid: 7, friendid: 4242 })).errno, 5);
  assert.equal((await alice.request({ msgid: 7, friendid: "2" })).errno, 3);
  const added = await alice.request({ msgid: 7, friendid: bobId });
  assert.deepEqual([added.msgid, added.errno], [11, 0]);
  assert.equal((await alice.request({ msgid: 7, friendid: bobId })).errno, 6);
  const bobView = await bob.login(bobId);
  assert.deepEqual(bobView.friends, [{ id: aliceId, name: "alice", state: "online" }]);
  await alice.request({ msgid: 3 });
  await bob.request({ msgid: 3 });
  const aliceView = await alice.login(aliceId);
  assert.deepEqual(aliceView.friends, [{ id: bobId, name: "bob", state: "offline" }]);
});

chatTest("the sender is the session's user, never the request's id field", async (c) => {
  const alice = await c.client();
  const bob = await c.client();
  const aliceId = await alice.register("alice");
  const bobId = await bob.register("bob");
  const malloryId = await alice.register("mallory");
  await alice.login(aliceId);
  await bob.login(bobId);
  await alice.request({ msgid: 6, id: malloryId, name: "mallory", toid: bobId, msg: "hi" });
  const [push] = bob.pushes();
  assert.equal(push.id, aliceId);
  assert.equal(push.name, "alice");
  await alice.request({ msgid: 7, id: malloryId, friendid: bobId });
  assert.deepEqual((await c.store.friends.list(malloryId)).length, 0);
});

chatTest("one-to-one chat is pushed to an online user on any node", async (c) => {
  const alice = await c.client("node-a");
  const bob = await c.client("node-b");
  const aliceId = await alice.register("alice");
  const bobId = await bob.register("bob");
  await alice.login(aliceId);
  await bob.login(bobId);
  const ack = await alice.request({ msgid: 6, toid: bobId, msg: "hello: 你好 🎉" });
  assert.deepEqual(ack, {
    msgid: 11,
    seq: ack.seq,
    errno: 0,
    time: "2026-01-02T03:04:05.678Z",
    mid: ack.mid,
  });
  assert.equal(typeof ack.mid, "number");
  await settle();
  assert.deepEqual(bob.pushes(), [{
    msgid: 6,
    mid: ack.mid,
    id: aliceId,
    name: "alice",
    toid: bobId,
    msg: "hello: 你好 🎉",
    time: "2026-01-02T03:04:05.678Z",
  }]);
  assert.deepEqual(alice.pushes(), []);
});

chatTest("chat to an offline user is delivered once at their next login", async (c) => {
  const alice = await c.client();
  const bob = await c.client("node-b");
  const aliceId = await alice.register("alice");
  const bobId = await bob.register("bob");
  await alice.login(aliceId);
  for (const msg of ["first", "second", "third"]) {
    assert.equal((await alice.request({ msgid: 6, toid: bobId, msg })).errno, 0);
  }
  const view = await bob.login(bobId);
  assert.deepEqual((view.offlinemsg as { msg: string }[]).map((m) => m.msg), [
    "first",
    "second",
    "third",
  ]);
  assert.equal((view.offlinemsg as { id: number }[])[0].id, aliceId);
  await bob.request({ msgid: 3 });
  assert.deepEqual((await bob.login(bobId)).offlinemsg, []);
});

chatTest("chat validates its fields: missing user 5, message limits 3", async (c) => {
  const alice = await c.client();
  const aliceId = await alice.register("alice");
  await alice.login(aliceId);
  assert.equal((await alice.request({ msgid: 6, toid: 9999, msg: "hi" })).errno, 5);
  assert.equal((await alice.request({ msgid: 6, toid: aliceId, msg: "" })).errno, 3);
  assert.equal((await alice.request({ msgid: 6, toid: aliceId, msg: "x".repeat(4097) })).errno, 3);
  assert.equal((await alice.request({ msgid: 6, toid: aliceId })).errno, 3);
  assert.equal((await alice.request({ msgid: 6, msg: "hi" })).errno, 3);
  assert.equal((await alice.request({ msgid: 6, toid: aliceId, msg: "😀".repeat(4096) })).errno, 0);
});

chatTest("groups: create, join, members with roles, errors", async (c) => {
  const alice = await c.client();
  const bob = await c.client();
  const aliceId = await alice.register("alice");
  const bobId = await bob.register("bob");
  await alice.login(aliceId);
  await bob.login(bobId);
  const created = await alice.request({ msgid: 8, groupname: "devs", groupdesc: "code" });
  assert.equal(created.errno, 0);
  const groupid = created.groupid as number;
  assert.equal((await bob.request({ msgid: 8, groupname: "devs" })).errno, 6);
  assert.equal((await bob.request({ msgid: 8, groupname: "" })).errno, 3);
  assert.equal(
    (await bob.request({ msgid: 8, groupname: "g", groupdesc: "d".repeat(201) })).errno,
    3,
  );
  assert.equal((await bob.request({ msgid: 9, groupid: groupid + 100 })).errno, 5);
  assert.equal((await bob.request({ msgid: 9, groupid })).errno, 0);
  assert.equal((await bob.request({ msgid: 9, groupid })).errno, 6);
  await bob.request({ msgid: 3 });
  const view = await bob.login(bobId);
  assert.deepEqual(view.groups, [{
    id: groupid,
    groupname: "devs",
    groupdesc: "code",
    users: [
      { id: aliceId, name: "alice", state: "online", role: "creator" },
      { id: bobId, name: "bob", state: "online", role: "normal" },
    ],
  }]);
});

chatTest("group chat reaches every other member, online or offline, on any node", async (c) => {
  const alice = await c.client("node-a");
  const bob = await c.client("node-b");
  const carol = await c.client("node-a");
  const dave = await c.client("node-b");
  const ids = {
    alice: await alice.register("alice"),
    bob: await bob.register("bob"),
    carol: await carol.register("carol"),
    dave: await dave.register("dave"),
  };
  await alice.login(ids.alice);
  await bob.login(ids.bob);
  await carol.login(ids.carol);
  await dave.login(ids.dave);
  const groupid = (await alice.request({ msgid: 8, groupname: "all" })).groupid as number;
  await bob.request({ msgid: 9, groupid });
  await carol.request({ msgid: 9, groupid });
  await carol.request({ msgid: 3 });
  assert.equal((await dave.request({ msgid: 10, groupid, msg: "let me in" })).errno, 6);
  assert.equal((await dave.request({ msgid: 10, groupid: 999, msg: "hi" })).errno, 5);
  const ack = await alice.request({ msgid: 10, groupid, msg: "hello group" });
  assert.equal(ack.errno, 0);
  assert.equal(ack.time, "2026-01-02T03:04:05.678Z");
  await settle();
  assert.deepEqual(alice.pushes(), [], "the sender does not receive their own message");
  assert.deepEqual(dave.pushes(), []);
  assert.deepEqual(bob.pushes(), [{
    msgid: 10,
    mid: ack.mid,
    id: ids.alice,
    name: "alice",
    groupid,
    msg: "hello group",
    time: "2026-01-02T03:04:05.678Z",
  }]);
  const carolView = await carol.login(ids.carol);
  assert.deepEqual((carolView.offlinemsg as { msg: string }[]).map((m) => m.msg), ["hello group"]);
});

chatTest(
  "a message is stored before its ACK, so a push that finds nobody still waits",
  async (c) => {
    const alice = await c.client("node-a");
    const bob = await c.client("node-b");
    const aliceId = await alice.register("alice");
    const bobId = await bob.register("bob");
    await alice.login(aliceId);
    await bob.login(bobId);
    // Bob's presence still says node-b while his session there is already gone.
    bob.deps.sessions.remove(bobId, bob.session);
    const ack = await alice.request({ msgid: 6, toid: bobId, msg: "are you there?" });
    await settle();
    const pending = await c.store.messages.pending(bobId);
    assert.deepEqual(pending.map((m) => [m.mid, m.msg]), [[ack.mid, "are you there?"]]);
  },
);

chatTest(
  "a closed connection's queued hashing is skipped: no answer, no error logged",
  async (c) => {
    const client = await c.client();
    const errors: string[] = [];
    client.deps.log = { ...client.deps.log, error: (event) => errors.push(event) };
    client.session.closing.abort();
    await dispatch(client.session, { msgid: 4, name: "gone", password: "pw", seq: 1 }, client.deps);
    await dispatch(client.session, { msgid: 1, name: "gone", password: "pw", seq: 2 }, client.deps);
    assert.deepEqual(client.session.take(), []);
    assert.deepEqual(errors, []);
    assert.equal(await c.store.users.findByName("gone"), null, "nothing was stored");
  },
);
