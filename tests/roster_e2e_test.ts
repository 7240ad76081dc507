// The live roster end to end, with real components only: two chatserver processes on MariaDB and
// Redis behind a private nginx. Every roster event crosses servers (friend added and removed,
// member joined and left with the creator passed on, a friend coming and going), a graceful stop
// tells friends at once, and kill -9 of a server makes its users' friends on the other server
// see them offline within 10 s.

import assert from "node:assert/strict";
import { ChatCluster } from "./support/chat_cluster.ts";
import { nginxInstalled } from "./support/nginx.ts";
import { serviceAvailable, tcpOpen } from "./support/services.ts";
import { WireClient } from "./support/wire_client.ts";
import { mysqlExec, uniqueHex } from "./support/mysql_cli.ts";

const ready = await serviceAvailable("MariaDB", () => tcpOpen("127.0.0.1", 3306)) &&
  await serviceAvailable("Redis", () => tcpOpen("127.0.0.1", 6379)) &&
  await serviceAvailable("nginx with the stream module", nginxInstalled);

function rosterTest(name: string, body: (cluster: ChatCluster) => Promise<void>) {
  Deno.test({
    name: `roster e2e: ${name}`,
    ignore: !ready,
    async fn() {
      const database = `chat_roster_${uniqueHex()}`;
      const cluster = await ChatCluster.start({
        db: `mysql://root@127.0.0.1:3306/${database}`,
        redis: "redis://127.0.0.1:6379",
        redisPrefix: `test:${uniqueHex()}:`,
        nodeIds: ["node-a", "node-b"],
      });
      try {
        await body(cluster);
      } catch (error) {
        console.error(cluster.logs());
        throw error;
      } finally {
        await cluster.stop();
        await mysqlExec(`DROP DATABASE IF EXISTS ${database}`);
      }
    },
  });
}

interface LoggedIn {
  client: WireClient;
  node: string;
  view: Record<string, unknown>;
}

/** Logs `id` in through nginx, retrying until it lands on a server other than `avoid`. */
async function loginAway(port: number, id: number, avoid: string | null): Promise<LoggedIn> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const client = await WireClient.connect(port);
    const view = await client.login(id);
    assert.equal(view.errno, 0, JSON.stringify(view));
    if (view.node !== avoid) return { client, node: String(view.node), view };
    await client.request({ msgid: 3 });
    client.close();
  }
  throw new Error("nginx never balanced onto a second server");
}

/** Waits for the next roster update `client` receives and returns it. */
async function nextUpdate(client: WireClient, what: string, timeoutMs = 10_000) {
  await client.until(() => client.updates.length > 0, what, timeoutMs);
  return client.updates.shift()!;
}

const presence = (id: number, name: string, state: string) => ({ msgid: 17, id, name, state });

rosterTest("friends, groups and presence change live across servers", async (c) => {
  const setup = await WireClient.connect(c.port);
  const aliceId = await setup.register("alice");
  const bobId = await setup.register("bob");
  setup.close();
  const alice = await loginAway(c.port, aliceId, null);
  let bob = await loginAway(c.port, bobId, alice.node);

  const added = await alice.client.request({ msgid: 7, friendid: bobId });
  assert.deepEqual(added.friend, { id: bobId, name: "bob", state: "online" });
  assert.deepEqual(await nextUpdate(bob.client, "friend_added on bob's server"), {
    msgid: 18,
    event: "friend_added",
    friend: { id: aliceId, name: "alice", state: "online" },
  });

  await bob.client.request({ msgid: 3 });
  assert.deepEqual(
    await nextUpdate(alice.client, "bob offline"),
    presence(bobId, "bob", "offline"),
  );
  bob.client.close();
  bob = await loginAway(c.port, bobId, alice.node);
  assert.deepEqual(bob.view.friends, [{ id: aliceId, name: "alice", state: "online" }]);
  // Landing on bob's server may take a few logins (each one elsewhere logs out again): alice
  // sees bob come and go with each, and online last.
  const online = JSON.stringify(presence(bobId, "bob", "online"));
  await alice.client.until(
    () => JSON.stringify(alice.client.updates.at(-1)) === online,
    "bob online, last",
  );
  alice.client.updates.length = 0;

  const groupid = (await alice.client.request({ msgid: 8, groupname: "devs" })).groupid;
  const joined = await bob.client.request({ msgid: 9, groupid });
  assert.deepEqual((joined.group as { users: unknown[] }).users, [
    { id: aliceId, name: "alice", role: "creator", state: "online" },
    { id: bobId, name: "bob", role: "normal", state: "online" },
  ]);
  assert.deepEqual(await nextUpdate(alice.client, "member_joined"), {
    msgid: 18,
    event: "member_joined",
    groupid,
    user: { id: bobId, name: "bob", state: "online", role: "normal" },
  });
  assert.equal((await alice.client.request({ msgid: 20, groupid })).errno, 0);
  assert.deepEqual(await nextUpdate(bob.client, "member_left"), {
    msgid: 18,
    event: "member_left",
    groupid,
    id: aliceId,
    creator: bobId,
  });

  assert.equal((await bob.client.request({ msgid: 19, friendid: aliceId })).errno, 0);
  assert.deepEqual(await nextUpdate(alice.client, "friend_removed"), {
    msgid: 18,
    event: "friend_removed",
    id: bobId,
  });
  assert.equal((await bob.client.request({ msgid: 19, friendid: aliceId })).errno, 5);
  assert.deepEqual(alice.client.updates, []);
  assert.deepEqual(bob.client.updates, []);
});

/** Registers alice and bob, logs them in on different servers, and makes them friends. */
async function friendsApart(c: ChatCluster) {
  const setup = await WireClient.connect(c.port);
  const aliceId = await setup.register("alice");
  const bobId = await setup.register("bob");
  setup.close();
  const alice = await loginAway(c.port, aliceId, null);
  const bob = await loginAway(c.port, bobId, alice.node);
  await alice.client.request({ msgid: 7, friendid: bobId });
  await nextUpdate(bob.client, "alice's friend_added");
  return { alice, bob, bobId };
}

rosterTest(
  "kill -9 of a server: its users' friends elsewhere see them offline within 10 s",
  async (c) => {
    const { alice, bob, bobId } = await friendsApart(c);
    const killedAt = Date.now();
    await c.kill(bob.node);
    const offline = await nextUpdate(alice.client, "bob offline after kill -9", 10_000);
    const seconds = (Date.now() - killedAt) / 1000;
    assert.deepEqual(offline, presence(bobId, "bob", "offline"));
    assert.ok(seconds < 10, `bob looked offline ${seconds} s after the kill`);
    console.log(`  bob seen offline ${seconds.toFixed(1)} s after kill -9 of his server`);
  },
);

rosterTest("a graceful stop tells its users' friends elsewhere at once", async (c) => {
  const { alice, bob, bobId } = await friendsApart(c);
  const server = c.servers.get(bob.node)!;
  c.servers.delete(bob.node);
  const stoppedAt = Date.now();
  await server.stop("SIGTERM");
  const offline = await nextUpdate(alice.client, "bob offline after SIGTERM", 10_000);
  assert.deepEqual(offline, presence(bobId, "bob", "offline"));
  const seconds = (Date.now() - stoppedAt) / 1000;
  // Well before a dead node would be noticed (its liveness key lapses only after 6 s).
  assert.ok(seconds < 5, `bob looked offline ${seconds} s after the stop`);
});
