// Session tokens through the dispatcher: issued at a password login, accepted instead of the
// password (on any node), revoked by logout and by CHANGE_PASSWORD, expiring after 30 days
// unused (fake time), stored only as a hash, and counted by the login throttle when wrong.

import assert from "node:assert/strict";
import { hashToken } from "../lib/session_tokens.ts";
import { TestCluster } from "./support/harness.ts";

function tokenTest(name: string, body: (cluster: TestCluster) => Promise<void>) {
  Deno.test(`session tokens: ${name}`, async () => {
    const cluster = new TestCluster();
    try {
      await body(cluster);
    } finally {
      await cluster.close();
    }
  });
}

const DAY_MS = 86_400_000;

tokenTest("a password login gets a token that logs in instead, on any node", async (c) => {
  const first = await c.client("node-a");
  const id = await first.register("alice", "pw");
  const login = await first.login(id, "pw");
  const token = login.token as string;
  assert.match(token, /^[A-Za-z0-9_-]{43}$/);
  await first.disconnect();
  const second = await c.client("node-b");
  const again = await second.request({ msgid: 1, name: "alice", token, receipts: true });
  assert.equal(again.errno, 0);
  assert.equal(again.id, id);
  assert.equal(again.token, token, "the same token: the client keeps what it has");
  assert.equal((await second.request({ msgid: 1, id, token })).errno, 2, "still online once");
});

tokenTest("a wrong token, another user's token, or both fields are refused", async (c) => {
  const client = await c.client();
  const alice = await client.register("alice");
  const bob = await client.register("bob");
  const token = (await client.login(alice)).token as string;
  await client.disconnect();
  assert.equal((await client.request({ msgid: 1, id: bob, token })).errno, 1);
  assert.equal((await client.request({ msgid: 1, id: 999, token })).errno, 1);
  assert.equal((await client.request({ msgid: 1, id: alice, token: token + "x" })).errno, 1);
  assert.equal((await client.request({ msgid: 1, id: alice, token, password: "pw" })).errno, 3);
  assert.equal((await client.request({ msgid: 1, id: alice })).errno, 3);
  assert.equal((await client.request({ msgid: 1, id: alice, token: 7 })).errno, 3);
  assert.equal((await client.request({ msgid: 1, id: alice, token })).errno, 0);
});

tokenTest("the store keeps only the token's hash", async (c) => {
  const client = await c.client();
  const id = await client.register("alice");
  const token = (await client.login(id)).token as string;
  const now = c.time.getTime();
  assert.equal(await c.store.tokens.use(id, token, now, 0), false, "not stored as given");
  assert.equal(await c.store.tokens.use(id, hashToken(token), now, 0), true);
});

tokenTest("logout revokes the session's token; a dropped connection does not", async (c) => {
  const client = await c.client();
  const id = await client.register("alice");
  const kept = (await client.login(id)).token as string;
  await client.disconnect();
  assert.equal((await client.request({ msgid: 1, id, token: kept })).errno, 0);
  assert.equal((await client.request({ msgid: 3 })).errno, 0);
  assert.equal((await client.request({ msgid: 1, id, token: kept })).errno, 1);
  assert.equal((await client.login(id)).errno, 0, "the password still works");
});

tokenTest("a token expires after 30 days without use; each use starts them again", async (c) => {
  const client = await c.client();
  const id = await client.register("alice");
  const token = (await client.login(id)).token as string;
  for (let use = 0; use < 3; use++) {
    await client.disconnect();
    c.time = new Date(c.time.getTime() + 30 * DAY_MS - 1);
    assert.equal((await client.request({ msgid: 1, id, token })).errno, 0, `use ${use}`);
  }
  await client.disconnect();
  c.time = new Date(c.time.getTime() + 30 * DAY_MS);
  assert.equal((await client.request({ msgid: 1, id, token })).errno, 1, "expired");
});

tokenTest("wrong tokens count as failed logins", async (c) => {
  const client = await c.client();
  const id = await client.register("alice");
  const token = (await client.login(id)).token as string;
  await client.disconnect();
  for (let i = 0; i < 5; i++) {
    assert.equal((await client.request({ msgid: 1, id, token: `guess${i}` })).errno, 1);
  }
  assert.equal((await client.request({ msgid: 1, id, token })).errno, 8, "locked for a minute");
  c.time = new Date(c.time.getTime() + 60_001);
  assert.equal((await client.request({ msgid: 1, id, token })).errno, 0);
});

tokenTest("CHANGE_PASSWORD checks the old one and revokes every token", async (c) => {
  const phone = await c.client();
  const id = await phone.register("alice", "old secret");
  const phoneToken = (await phone.login(id, "old secret")).token as string;
  await phone.disconnect();
  const laptop = await c.client("node-b");
  const laptopToken = (await laptop.login(id, "old secret")).token as string;

  assert.equal((await laptop.request({ msgid: 21, old: "wrong", new: "x" })).errno, 1);
  assert.equal((await laptop.request({ msgid: 21, old: "old secret", new: "" })).errno, 3);
  assert.equal((await laptop.request({ msgid: 21, old: "old secret" })).errno, 3);
  const changed = await laptop.request({ msgid: 21, old: "old secret", new: "new secret" });
  assert.equal(changed.errno, 0);
  assert.equal(changed.msgid, 11);
  const fresh = changed.token as string;
  assert.match(fresh, /^[A-Za-z0-9_-]{43}$/);
  assert.ok(fresh !== laptopToken && fresh !== phoneToken);

  await laptop.disconnect();
  for (const token of [phoneToken, laptopToken]) {
    assert.equal((await phone.request({ msgid: 1, id, token })).errno, 1, "revoked");
  }
  assert.equal((await phone.login(id, "old secret")).errno, 1);
  assert.equal((await phone.request({ msgid: 1, id, token: fresh })).errno, 0);
  await phone.disconnect();
  assert.equal((await phone.login(id, "new secret")).errno, 0);
});

tokenTest("CHANGE_PASSWORD needs a login, and wrong old passwords are throttled", async (c) => {
  const client = await c.client();
  const id = await client.register("alice");
  assert.equal((await client.request({ msgid: 21, old: "pw", new: "x" })).errno, 4);
  await client.login(id);
  for (let i = 0; i < 5; i++) {
    assert.equal((await client.request({ msgid: 21, old: `guess${i}`, new: "x" })).errno, 1);
  }
  assert.equal((await client.request({ msgid: 21, old: "pw", new: "x" })).errno, 8);
});
