// The cluster end to end, with real components only: two chatserver processes on MariaDB and
// Redis behind a private nginx stream balancer. Users on different servers chat, see each other's
// presence, share a group, are refused a second login anywhere, and survive kill -9 of a server.

import assert from "node:assert/strict";
import { nginxInstalled, type NginxProcess, startNginx } from "./support/nginx.ts";
import { type ServerProcess, startServer } from "./support/server_process.ts";
import { serviceAvailable, tcpOpen } from "./support/services.ts";
import { WireClient } from "./support/wire_client.ts";
import { mysqlExec, uniqueHex } from "./support/mysql_cli.ts";

const ready = await serviceAvailable("MariaDB", () => tcpOpen("127.0.0.1", 3306)) &&
  await serviceAvailable("Redis", () => tcpOpen("127.0.0.1", 6379)) &&
  await serviceAvailable("nginx with the stream module", nginxInstalled);

interface Cluster {
  servers: Map<string, ServerProcess>;
  nginx: NginxProcess;
  start(nodeId: string): Promise<ServerProcess>;
}

function clusterTest(name: string, body: (cluster: Cluster) => Promise<void>) {
  Deno.test({
    name: `cluster e2e: ${name}`,
    ignore: !ready,
    async fn() {
      const database = `chat_e2e_${uniqueHex()}`;
      const args = [
        "--db",
        `mysql://root@127.0.0.1:3306/${database}`,
        "--redis",
        "redis://127.0.0.1:6379",
        "--redis-prefix",
        `test:${uniqueHex()}:`,
      ];
      const servers = new Map<string, ServerProcess>();
      const start = async (nodeId: string) => {
        const server = await startServer([...args, "--node-id", nodeId]);
        servers.set(nodeId, server);
        return server;
      };
      let nginx: NginxProcess | undefined;
      try {
        const a = await start("node-a");
        const b = await start("node-b");
        nginx = await startNginx([a.port, b.port]);
        await body({ servers, nginx, start });
      } finally {
        await nginx?.stop();
        for (const server of servers.values()) await server.stop("SIGKILL");
        await mysqlExec(`DROP DATABASE IF EXISTS ${database}`);
      }
    },
  });
}

/** Logs `id` in through nginx, retrying until it lands on a server other than `avoid`. */
async function loginAway(
  port: number,
  id: number,
  avoid: string | null,
): Promise<{ client: WireClient; node: string; view: Record<string, unknown> }> {
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

/** Retries a login through nginx until it succeeds or `timeoutMs` passes. */
async function loginWithin(port: number, id: number, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const client = await WireClient.connect(port);
      const view = await client.login(id, "pw");
      if (view.errno === 0) return { client, view };
      last = view;
      client.close();
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`login of ${id} did not succeed within ${timeoutMs} ms: ${String(last)}`);
}

clusterTest("users on different servers chat, share a group and see presence", async (c) => {
  const setup = await WireClient.connect(c.nginx.port);
  const aliceId = await setup.register("alice");
  const bobId = await setup.register("bob");
  const carolId = await setup.register("carol");
  setup.close();

  const alice = await loginAway(c.nginx.port, aliceId, null);
  const bob = await loginAway(c.nginx.port, bobId, alice.node);
  assert.notEqual(alice.node, bob.node);

  assert.equal((await alice.client.request({ msgid: 7, friendid: bobId })).errno, 0);
  assert.equal((await alice.client.request({ msgid: 6, toid: bobId, msg: "across" })).errno, 0);
  await bob.client.until(() => bob.client.pushes.length === 1, "push on bob's server");
  assert.equal((await bob.client.request({ msgid: 6, toid: aliceId, msg: "back" })).errno, 0);
  await alice.client.until(() => alice.client.pushes.length === 1, "push on alice's server");
  assert.deepEqual(
    [bob.client.pushes[0].msg, bob.client.pushes[0].name, alice.client.pushes[0].msg],
    ["across", "alice", "back"],
  );

  // Presence across servers: bob logs in again on another server and sees alice online.
  await bob.client.request({ msgid: 3 });
  bob.client.close();
  const bobAgain = await loginAway(c.nginx.port, bobId, alice.node);
  assert.deepEqual(bobAgain.view.friends, [{ id: aliceId, name: "alice", state: "online" }]);

  // A group with members on both servers, and one offline member.
  const { groupid } = await alice.client.request({ msgid: 8, groupname: "both" });
  assert.equal((await bobAgain.client.request({ msgid: 9, groupid })).errno, 0);
  const carol = await WireClient.connect(c.nginx.port);
  await carol.login(carolId);
  assert.equal((await carol.request({ msgid: 9, groupid })).errno, 0);
  await carol.request({ msgid: 3 });
  assert.equal((await alice.client.request({ msgid: 10, groupid, msg: "to all" })).errno, 0);
  await bobAgain.client.until(
    () => bobAgain.client.pushes.some((p) => p.msg === "to all"),
    "group push on the other server",
  );
  const carolView = await carol.login(carolId);
  assert.deepEqual((carolView.offlinemsg as { msg: string }[]).map((m) => m.msg), ["to all"]);
  const roster = (carolView.groups as { users: { id: number; state: string }[] }[])[0].users;
  assert.deepEqual(roster.map((u) => [u.id, u.state]), [
    [aliceId, "online"],
    [bobId, "online"],
    [carolId, "online"],
  ]);

  // Online at most once in the whole cluster, whichever server a second login reaches.
  for (let i = 0; i < 4; i++) {
    const intruder = await WireClient.connect(c.nginx.port);
    assert.equal((await intruder.login(aliceId)).errno, 2);
    intruder.close();
  }
  for (const client of [alice.client, bobAgain.client, carol]) client.close();
});

clusterTest(
  "kill -9 of a server: its users log in again within 10 s and get what they missed",
  async (c) => {
    const setup = await WireClient.connect(c.nginx.port);
    const aliceId = await setup.register("alice");
    const bobId = await setup.register("bob");
    setup.close();
    const alice = await loginAway(c.nginx.port, aliceId, null);
    const bob = await loginAway(c.nginx.port, bobId, alice.node);

    const killedAt = Date.now();
    await c.servers.get(bob.node)!.stop("SIGKILL");
    await bob.client.closed;

    const missed = ["while", "you", "were", "away"];
    for (const msg of missed) {
      const ack = await alice.client.request({ msgid: 6, toid: bobId, msg });
      assert.equal(ack.errno, 0, JSON.stringify(ack));
    }
    const back = await loginWithin(c.nginx.port, bobId, 10_000 - (Date.now() - killedAt));
    assert.equal(back.view.node, alice.node, "nginx sends bob to the surviving server");
    assert.deepEqual((back.view.offlinemsg as { msg: string }[]).map((m) => m.msg), missed);

    // The dead server restarts with the same id: it clears only its own stale presence.
    await c.start(bob.node);
    const intruder = await WireClient.connect(c.servers.get(bob.node)!.port);
    assert.equal((await intruder.login(aliceId)).errno, 2, "alice is still online on her server");
    assert.equal((await intruder.login(bobId)).errno, 2, "bob is still online on the survivor");
    intruder.close();
    alice.client.close();
    back.client.close();
  },
);

clusterTest("a graceful stop marks that server's users offline at once", async (c) => {
  const setup = await WireClient.connect(c.nginx.port);
  const aliceId = await setup.register("alice");
  setup.close();
  const alice = await loginAway(c.nginx.port, aliceId, null);
  assert.equal((await c.servers.get(alice.node)!.stop("SIGTERM")).code, 0);
  await alice.client.closed;
  const again = await WireClient.connect(c.nginx.port);
  assert.equal((await again.login(aliceId)).errno, 0);
  again.close();
});

Deno.test({
  name: "cluster e2e: unreachable MySQL or Redis at start is one line and exit 1",
  ignore: !ready,
  async fn() {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const closedPort = listener.addr.port;
    listener.close();
    for (
      const args of [
        ["--db", `mysql://root@127.0.0.1:${closedPort}/chat`],
        ["--db", "sqlite::memory:", "--redis", `redis://127.0.0.1:${closedPort}`],
      ]
    ) {
      const result = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", new URL("../server.ts", import.meta.url).pathname, "0", ...args],
        stdin: "null",
        env: { NO_COLOR: "1" },
      }).output();
      const stderr = new TextDecoder().decode(result.stderr).trim();
      assert.equal(result.code, 1, stderr);
      assert.equal(stderr.split("\n").length, 1, stderr);
      assert.match(stderr, /^chatserver: .*cannot connect to (MySQL|Redis)/);
    }
  },
});
