// Runs the cluster contract against a real Redis Cluster (3 masters, 3 replicas, started for
// this file by tests/support/redis_cluster.ts; each test under its own key prefix), plus what
// only a cluster has: hash slots, sharded channels, and the kill -9 of a master.

import assert from "node:assert/strict";
import { connectRedisCluster, type RedisClusterOptions } from "../lib/cluster/redis.ts";
import { RedisKeys } from "../lib/cluster/redis_keys.ts";
import { ClusterRouter } from "../lib/cluster/redis_cluster_router.ts";
import {
  clusterContract,
  type ClusterNode,
  collect,
  type TestCluster,
  waitFor,
} from "./cluster_contract.ts";
import { type RedisClusterFixture, startRedisCluster } from "./support/redis_cluster.ts";
import { freePort, serviceAvailable, tcpOpen } from "./support/services.ts";
import { StorageError } from "../lib/errors.ts";

let fixture: RedisClusterFixture | undefined;
const ignore = !await serviceAvailable(
  "a Redis Cluster (redis-server 7 and redis-cli)",
  async () => {
    fixture = await startRedisCluster();
    return true;
  },
);

type NodeOptions = Partial<RedisClusterOptions>;
type ClusterOnRedis = TestCluster & {
  prefix: string;
  node(nodeId: string, options?: NodeOptions): Promise<ClusterNode>;
};

const seeds = () => fixture!.ports.map((port) => ({ host: "127.0.0.1", port }));

function redisClusterCluster(): Promise<ClusterOnRedis> {
  const prefix = `test:${crypto.randomUUID().slice(0, 8)}:`;
  const nodes: ClusterNode[] = [];
  return Promise.resolve({
    prefix,
    async node(nodeId: string, options: NodeOptions = {}) {
      const node = await connectRedisCluster({
        clusterSeeds: seeds(),
        nodeId,
        prefix,
        warn: () => {},
        // A dead node stays dead once kill() deleted its alive key (no heartbeat brings it back
        // in the test's time); others are checked for having gone every 50 ms.
        livenessTtlMs: 60_000,
        nodeWatchMs: 50,
        ...options,
      });
      nodes.push(node);
      return node;
    },
    async kill(nodeId: string) {
      const alive = new RedisKeys(prefix).alive(nodeId);
      await fixture!.cli(await fixture!.masterOf(alive), "del", alive);
    },
    async close() {
      for (const { presence, bus } of nodes) {
        await presence.close();
        await bus.close();
      }
    },
  });
}

clusterContract("redis-cluster", redisClusterCluster, ignore);

function clusterTest(name: string, body: (cluster: ClusterOnRedis) => Promise<void>) {
  Deno.test({
    name: `redis-cluster: ${name}`,
    ignore,
    async fn() {
      const cluster = await redisClusterCluster();
      try {
        await body(cluster);
      } finally {
        await cluster.close();
      }
    },
  });
}

Deno.test({
  name: "redis-cluster: a node's keys and channel share a slot; users spread over the shards",
  ignore,
  async fn() {
    const router = await ClusterRouter.connect(seeds(), "test-slots", () => {});
    try {
      const keys = new RedisKeys("chat:");
      const slots = ["a", "node-b", "host:6000"].map((node) =>
        new Set(
          [keys.alive(node), keys.users(node), keys.channel(node)].map((key) => router.slotOf(key)),
        )
      );
      assert.deepEqual(slots.map((set) => set.size), [1, 1, 1]);
      const masters = new Set(
        Array.from({ length: 30 }, (_, id) => JSON.stringify(router.masterOf(keys.user(id)))),
      );
      assert.equal(masters.size, 3, "30 users' keys live on all three masters");
    } finally {
      await router.close();
    }
  },
});

Deno.test({
  name: "redis-cluster: seeds that are unreachable, or not a cluster, are a prompt StorageError",
  ignore,
  async fn() {
    const closed = [{ host: "127.0.0.1", port: freePort() }, {
      host: "127.0.0.1",
      port: freePort(),
    }];
    const started = Date.now();
    await assert.rejects(connectRedisCluster({ clusterSeeds: closed, nodeId: "A" }), (error) => {
      assert.ok(error instanceof StorageError);
      assert.match(
        (error as StorageError).detail,
        new RegExp(
          `^cannot connect to the Redis Cluster at 127.0.0.1:${closed[0].port},.+: .*ECONNREFUSED`,
        ),
      );
      return true;
    });
    assert.ok(Date.now() - started < 5_000, "took too long");
    if (!await tcpOpen("127.0.0.1", 6379)) return; // a plain Redis to point at, when there is one
    const plain = [{ host: "127.0.0.1", port: 6379 }];
    await assert.rejects(connectRedisCluster({ clusterSeeds: plain, nodeId: "A" }), (error) => {
      assert.match((error as StorageError).detail, /cluster support disabled/);
      return true;
    });
  },
});

clusterTest("closed nodes leave no keys behind on any master", async (cluster) => {
  const a = await cluster.node("A");
  const b = await cluster.node("B");
  for (let id = 1; id <= 20; id++) await (id % 2 ? a : b).presence.claim(id);
  await b.presence.release(2);
  for (const { presence, bus } of [a, b]) {
    await presence.close();
    await bus.close();
  }
  assert.deepEqual(await keysUnder(cluster.prefix), []);
});

clusterTest("a channel reaches only its shard: SPUBLISH, not a broadcast", async (cluster) => {
  const a = await cluster.node("A");
  const b = await cluster.node("B");
  const inbox = collect(a.bus, "A");
  await inbox.ready;
  const channel = `${cluster.prefix}bus:{A}`;
  const owner = await fixture!.masterOf(channel);
  const counts = await Promise.all(
    fixture!.ports.map(async (
      port,
    ) => [
      port,
      Number((await fixture!.cli(port, "pubsub", "shardnumsub", channel)).split("\n")[1]),
    ]),
  );
  assert.deepEqual(counts.filter(([, count]) => count > 0).map(([port]) => port), [owner]);
  assert.equal(await b.bus.publish("A", { to: [1], push: { n: 1 } }), true);
  assert.deepEqual(await inbox.next(), { to: [1], push: { n: 1 } });
});

clusterTest("lost presence writes are noticed by the heartbeat and repaired", async (cluster) => {
  const a = await cluster.node("A", { livenessTtlMs: 600 });
  const b = await cluster.node("B");
  for (const id of [1, 2, 3]) assert.equal(await a.presence.claim(id), true);
  // As if the shards lost them: two user keys vanish, then the node's alive key (in that order,
  // as a restart loses them all at once: the alive key gone is what the heartbeat notices).
  for (const key of ["user:1", "user:3", "node:{A}:alive"]) {
    const port = await fixture!.masterOf(cluster.prefix + key);
    await fixture!.cli(port, "del", cluster.prefix + key);
  }
  await waitFor(
    async () => (await b.presence.locate([1, 2, 3])).size === 3,
    "A's users to be marked again",
  );
  assert.equal(await b.presence.claim(1), false);
});

// Near the end: it freezes a master (the cluster keeps working on the promoted replica).
clusterTest("a master that hangs (SIGSTOP): commands fail in 3 s, then all carry on", async (c) => {
  const { nodeId, owner } = await failoverTarget(c.prefix);
  const a = await c.node(nodeId);
  const b = await c.node("B");
  const inbox = collect(a.bus, nodeId);
  await inbox.ready;
  for (const id of [1, 2, 3, 4]) await (id % 2 ? a : b).presence.claim(id);
  fixture!.pause(owner);
  const started = Date.now();
  // A publish to the frozen master does not hang: it fails within the command timeout.
  await assert.rejects(b.bus.publish(nodeId, { to: [1], push: { frozen: true } }), StorageError);
  assert.ok(Date.now() - started < 5_000, `took ${Date.now() - started} ms`);
  await waitFor(
    async () => {
      try {
        return await b.bus.publish(nodeId, { to: [1], push: { thawed: true } });
      } catch {
        return false;
      }
    },
    "the subscription on the promoted replica",
    30_000,
  );
  assert.deepEqual(await inbox.next(), { to: [1], push: { thawed: true } });
  await waitFor(async () => {
    try {
      return (await b.presence.locate([1, 2, 3, 4])).size === 4;
    } catch {
      return false;
    }
  }, "presence as before");
  assert.equal(await b.presence.claim(1), false);
  assert.equal(await b.presence.claim(5), true);
});

// Last: it kills a master (the cluster keeps working on the promoted replica).
clusterTest(
  "kill -9 of the master of a node's channel: the bus and presence carry on",
  async (c) => {
    const { nodeId, owner } = await failoverTarget(c.prefix);
    const a = await c.node(nodeId);
    const b = await c.node("B");
    const recovered: string[] = [];
    a.bus.onRecovered?.(() => recovered.push("bus"));
    const inbox = collect(a.bus, nodeId);
    await inbox.ready;
    for (const id of [1, 2, 3, 4, 5, 6]) await (id % 2 ? a : b).presence.claim(id);
    await fixture!.kill(owner);
    const killedAt = Date.now();

    // Meanwhile a publish fails (StorageError) or reaches no one; neither hangs.
    await waitFor(
      async () => {
        try {
          return await b.bus.publish(nodeId, { to: [1], push: { after: true } });
        } catch {
          return false;
        }
      },
      "the subscription on the promoted replica",
      20_000,
    );
    console.log(
      `  publishing reached node ${nodeId} again ${Date.now() - killedAt} ms after the kill`,
    );
    const next = await inbox.next();
    assert.deepEqual(next, { to: [1], push: { after: true } });
    assert.ok(recovered.includes("bus"), "the bus reported that messages may have been lost");
    const expected = new Map([1, 2, 3, 4, 5, 6].map((id) => [id, id % 2 ? nodeId : "B"]));
    await waitFor(async () => {
      try {
        return JSON.stringify([...await b.presence.locate([1, 2, 3, 4, 5, 6])]) ===
          JSON.stringify([...expected]);
      } catch {
        return false;
      }
    }, "presence as before the failover");
    assert.equal(await a.presence.claim(2), false);
    await b.presence.release(2);
    assert.equal(await a.presence.claim(2), true);
    assert.equal(await b.presence.claim(7), true);
  },
);

Deno.test({
  name: "redis-cluster: stop the test cluster",
  ignore,
  async fn() {
    await fixture?.stop();
  },
});

/** A node id whose channel's master can fail over (has a live replica), and that master. */
async function failoverTarget(prefix: string): Promise<{ nodeId: string; owner: number }> {
  for (const nodeId of ["A", "C", "D", "E", "F", "G", "H", "I", "J", "K"]) {
    const owner = await fixture!.masterOf(`${prefix}bus:{${nodeId}}`);
    if (await fixture!.replicated(owner)) return { nodeId, owner };
  }
  throw new Error("no master with a live replica owns any of the candidate channels");
}

/** Keys under `prefix` on every live master. */
async function keysUnder(prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for (const port of fixture!.ports) {
    let text = "";
    try {
      text = await fixture!.cli(port, "--scan", "--pattern", `${prefix}*`);
    } catch {
      continue; // a killed node
    }
    keys.push(...text.split("\n").filter((line) => line !== ""));
  }
  return [...new Set(keys)].sort();
}

Deno.test("redis-cluster: the server says in one line what is wrong with --redis-cluster", async () => {
  const cases: [string[], number, RegExp][] = [
    [["--redis", "redis://x:1", "--redis-cluster", "x:7000"], 2, /exclude each other/],
    [["--redis-cluster", "redis://x:7000"], 2, /invalid --redis-cluster 'redis:\/\/x:7000'/],
    [["--redis-cluster", `127.0.0.1:${freePort()}`], 1, /cannot connect to the Redis Cluster at/],
  ];
  for (const [args, code, message] of cases) {
    const result = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL("../server.ts", import.meta.url).pathname, "0", ...args],
      env: { NO_COLOR: "1", CHAT_DB: "sqlite::memory:" },
      stdin: "null",
    }).output();
    const stderr = new TextDecoder().decode(result.stderr).trim();
    assert.equal(result.code, code, stderr);
    assert.equal(stderr.split("\n").length, 1, stderr);
    assert.match(stderr, message);
  }
});
