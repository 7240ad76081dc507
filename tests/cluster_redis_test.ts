// Runs the cluster contract against Redis (each test under its own random key prefix), plus what
// only a networked backend has: killed nodes, outages, reconnects and foreign bus traffic.

import assert from "node:assert/strict";
import { createClient } from "redis";
import { connectRedisCluster, type RedisClusterOptions } from "../lib/cluster/redis.ts";
import { BUS_BATCH_MAX } from "../lib/cluster/redis_bus.ts";
import { openRedisClient } from "../lib/cluster/redis_client.ts";
import { RedisKeys } from "../lib/cluster/redis_keys.ts";
import { RedisPresence } from "../lib/cluster/redis_presence.ts";
import {
  type RedisRouter,
  type RestoredListener,
  SingleRedisRouter,
} from "../lib/cluster/redis_router.ts";
import calculateSlot from "cluster-key-slot";
import { RedisNodeWatch } from "../lib/cluster/redis_node_watch.ts";
import { Errno, StorageError } from "../lib/errors.ts";
import {
  clusterContract,
  type ClusterNode,
  collect,
  type TestCluster,
  waitFor,
} from "./cluster_contract.ts";
import { freePort, serviceAvailable, tcpOpen } from "./support/services.ts";

const REDIS_PORT = 6379;
const REDIS_URL = `redis://127.0.0.1:${REDIS_PORT}`;
const ignore = !await serviceAvailable("Redis", () => tcpOpen("127.0.0.1", REDIS_PORT));

type NodeOptions = Partial<RedisClusterOptions>;
type RedisTestCluster = TestCluster & {
  prefix: string;
  node(nodeId: string, options?: NodeOptions): Promise<ClusterNode>;
};

/** A cluster under a fresh prefix; `close` closes its nodes and deletes its keys. */
function redisCluster(): Promise<RedisTestCluster> {
  const prefix = `test:${randomHex()}:`;
  const nodes: ClusterNode[] = [];
  return Promise.resolve({
    prefix,
    async node(nodeId: string, options: NodeOptions = {}) {
      // A long liveness TTL: a node stays dead once kill() deleted its key (no heartbeat
      // brings it back in the test's time); others are checked for having gone every 50 ms.
      const node = await connectRedisCluster({
        url: REDIS_URL,
        nodeId,
        prefix,
        livenessTtlMs: 60_000,
        nodeWatchMs: 50,
        ...options,
      });
      nodes.push(node);
      return node;
    },
    async kill(nodeId: string) {
      await withAdmin((admin) => admin.del(new RedisKeys(prefix).alive(nodeId)));
    },
    async close() {
      for (const { presence, bus } of nodes) {
        await presence.close();
        await bus.close();
      }
      await withAdmin(async (admin) => {
        const keys = await keysUnder(admin, prefix);
        if (keys.length > 0) await admin.del(keys);
      });
    },
  });
}

clusterContract("redis", redisCluster, ignore);

/** A test that gets a fresh cluster and always closes it. */
function redisTest(name: string, body: (cluster: RedisTestCluster) => Promise<void>) {
  Deno.test({
    name: `redis cluster: ${name}`,
    ignore,
    async fn() {
      const cluster = await redisCluster();
      try {
        await body(cluster);
      } finally {
        await cluster.close();
      }
    },
  });
}

redisTest("closed nodes leave no keys behind", async (cluster) => {
  const a = await cluster.node("A");
  const b = await cluster.node("B");
  await a.presence.claim(1);
  await b.presence.claim(2);
  await b.presence.release(2);
  for (const { presence, bus } of [a, b]) {
    await presence.close();
    await bus.close();
  }
  assert.deepEqual(await withAdmin((admin) => keysUnder(admin, cluster.prefix)), []);
});

redisTest("the users of a killed node lapse after the liveness TTL", async (cluster) => {
  const b = await cluster.node("B");
  const doomed = await spawnNode(cluster.prefix, "doomed", 7);
  try {
    assert.deepEqual(await b.presence.locate([7]), new Map([[7, "doomed"]]));
    assert.equal(await b.presence.claim(7), false);
  } finally {
    doomed.kill("SIGKILL");
    await doomed.status;
  }
  await waitFor(async () => (await b.presence.locate([7])).size === 0, "user 7 to lapse");
  assert.equal(await b.presence.claim(7), true);
  assert.deepEqual(await b.presence.locate([7]), new Map([[7, "B"]]));
});

Deno.test({
  name: "redis cluster: an unreachable Redis is a prompt StorageError",
  ignore,
  async fn() {
    const url = `redis://127.0.0.1:${freePort()}`;
    const started = Date.now();
    await assert.rejects(connectRedisCluster({ url, nodeId: "A" }), (error) => {
      assert.ok(error instanceof StorageError);
      assert.equal(error.errno, Errno.SERVER_ERROR);
      assert.match(
        (error as StorageError).detail,
        new RegExp(`cannot connect to Redis at ${url}: .+`),
      );
      return true;
    });
    assert.ok(Date.now() - started < 5_000, "took too long");
  },
});

redisTest("the bus resubscribes after its connection is killed", async (cluster) => {
  const nodeId = `sub-${randomHex()}`;
  const warnings: string[] = [];
  const a = await cluster.node(nodeId, { warn: (message) => warnings.push(message) });
  const b = await cluster.node("B");
  const inbox = collect(a.bus, nodeId);
  await inbox.ready;
  const killed = await withAdmin((admin) => killClient(admin, `chat-${nodeId}-bus`));
  assert.equal(killed, 1);
  await waitFor(() => b.bus.publish(nodeId, { to: [1], push: { n: 1 } }), "resubscription");
  assert.deepEqual(await inbox.next(), { to: [1], push: { n: 1 } });
  assert.ok(warnings.some((message) => message.includes("restored")), warnings.join("\n"));
});

redisTest("commands fail fast while Redis is unreachable and recover after", async (cluster) => {
  const proxy = new TcpProxy(REDIS_PORT);
  const warnings: string[] = [];
  const url = `redis://127.0.0.1:${proxy.port}`;
  const a = await cluster.node("A", { url, warn: (message) => warnings.push(message) });
  const b = await cluster.node("B");
  const inbox = collect(a.bus, "A");
  await inbox.ready;
  assert.equal(await a.presence.claim(1), true);

  await proxy.cut();
  const storageError = (error: unknown) => error instanceof StorageError;
  const started = Date.now();
  await assert.rejects(a.presence.claim(2), storageError);
  await assert.rejects(a.presence.locate([1]), storageError);
  await assert.rejects(a.bus.publish("B", { to: [2], push: {} }), storageError);
  assert.equal(await a.presence.ping(), false);
  assert.ok(Date.now() - started < 2_000, "failing took too long");

  proxy.open();
  await waitFor(() => a.presence.ping(), "the command connection to come back");
  assert.equal(await a.presence.claim(2), true);
  await waitFor(() => b.bus.publish("A", { to: [2], push: { back: true } }), "resubscription");
  assert.deepEqual(await inbox.next(), { to: [2], push: { back: true } });
  assert.deepEqual(await b.presence.locate([1, 2]), new Map([[1, "A"], [2, "A"]]));
  assert.ok(warnings.some((message) => message.includes("lost")), warnings.join("\n"));
  await a.presence.close();
  await a.bus.close();
  await proxy.cut();
});

redisTest("a release that failed while Redis was away happens once it is back", async (cluster) => {
  const proxy = new TcpProxy(REDIS_PORT);
  const url = `redis://127.0.0.1:${proxy.port}`;
  const a = await cluster.node("A", { url, warn: () => {}, livenessTtlMs: 600 });
  const b = await cluster.node("B");
  assert.equal(await a.presence.claim(7), true);
  assert.equal(await a.presence.claim(8), true);
  await proxy.cut();
  await assert.rejects(a.presence.release(7), (error) => error instanceof StorageError);
  await assert.rejects(a.presence.release(8), (error) => error instanceof StorageError);
  proxy.open();
  // The heartbeat retries the release: user 7 becomes free for another node.
  await waitFor(() => b.presence.claim(7), "user 7 to be released in the background");
  // Claiming on the same node first completes the pending release.
  assert.equal(await a.presence.claim(8), true);
  assert.deepEqual(await b.presence.locate([7, 8]), new Map([[7, "B"], [8, "A"]]));
  await a.presence.close();
  await a.bus.close();
  await proxy.cut();
});

redisTest("malformed bus messages are reported and skipped", async (cluster) => {
  const warnings: string[] = [];
  const a = await cluster.node("A", { warn: (message) => warnings.push(message) });
  const inbox = collect(a.bus, "A");
  await inbox.ready;
  const channel = `${cluster.prefix}bus:{A}`;
  await withAdmin(async (admin) => {
    const junk = [
      "not json",
      "[]",
      '{"to":"x","push":{}}',
      '{"to":[1.5],"push":{}}',
      '{"batch":"x"}',
      '{"batch":[7,{"to":[2],"push":{"in":"batch"}}]}',
    ];
    for (const message of junk) {
      assert.equal(await admin.publish(channel, message), 1);
    }
  });
  assert.equal(await a.bus.publish("A", { to: [1], push: { ok: true } }), true);
  assert.deepEqual(await inbox.next(), { to: [2], push: { in: "batch" } }, "a batch's good part");
  assert.deepEqual(await inbox.next(), { to: [1], push: { ok: true } });
  assert.equal(inbox.received.length, 0);
  assert.equal(warnings.filter((message) => message.includes("malformed")).length, 6);
});

redisTest("what a node publishes to another in one burst is one Redis message", async (cluster) => {
  const a = await cluster.node("A");
  const b = await cluster.node("B");
  const inbox = collect(a.bus, "A");
  await inbox.ready;
  const seen: string[] = [];
  const spy = await createClient({ url: REDIS_URL }).connect();
  try {
    await spy.subscribe(`${cluster.prefix}bus:{A}`, (message) => seen.push(message));
    const heard = await Promise.all(
      [1, 2, 3].map((n) => b.bus.publish("A", { to: [n], push: { n } })),
    );
    assert.deepEqual(heard, [true, true, true]);
    for (const n of [1, 2, 3]) assert.deepEqual(await inbox.next(), { to: [n], push: { n } });
    await waitFor(() => seen.length > 0, "the spy's copy");
    assert.equal(seen.length, 1, "one PUBLISH for the burst");
    assert.deepEqual(JSON.parse(seen[0]).batch.map((m: { to: number[] }) => m.to), [[1], [2], [3]]);
    assert.equal(await b.bus.publish("A", { to: [4], push: { n: 4 } }), true);
    await waitFor(() => seen.length === 2, "the next burst");
    assert.deepEqual(JSON.parse(seen[1]), { to: [4], push: { n: 4 } }, "alone, as it is");
    assert.deepEqual(await inbox.next(), { to: [4], push: { n: 4 } });
    // A burst over the cap goes in several messages, in order.
    const many = Array.from({ length: BUS_BATCH_MAX + 2 }, (_, n) => n);
    await Promise.all(many.map((n) => b.bus.publish("A", { to: [n], push: { n } })));
    await waitFor(() => seen.length === 4, "the big burst's two messages");
    assert.deepEqual(seen.slice(2).map((text) => JSON.parse(text).batch.length), [
      BUS_BATCH_MAX,
      2,
    ]);
    for (const n of many) assert.deepEqual(await inbox.next(), { to: [n], push: { n } });
  } finally {
    await spy.close();
  }
});

/** Starts a node in another process that claims `userId`; resolves once it has. */
async function spawnNode(prefix: string, nodeId: string, userId: number) {
  const options = { url: REDIS_URL, nodeId, prefix, livenessTtlMs: 600 };
  const code = `
    import { connectRedisCluster } from ${
    JSON.stringify(import.meta.resolve("../lib/cluster/redis.ts"))
  };
    const { presence } = await connectRedisCluster(${JSON.stringify(options)});
    console.log(await presence.claim(${userId}) ? "claimed" : "refused");`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", code],
    cwd: new URL("..", import.meta.url),
    stdout: "piped",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const { value } = await lines.read();
  await lines.cancel();
  if (value?.trim() === "claimed") return child;
  child.kill("SIGKILL");
  await child.status;
  throw new Error(`the node process said ${JSON.stringify(value)} instead of "claimed"`);
}

async function withAdmin<T>(use: (admin: ReturnType<typeof createClient>) => Promise<T>) {
  const admin = await createClient({ url: REDIS_URL }).connect();
  try {
    return await use(admin);
  } finally {
    await admin.close();
  }
}

async function keysUnder(admin: ReturnType<typeof createClient>, prefix: string) {
  const keys: string[] = [];
  for await (const batch of admin.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) {
    keys.push(...batch);
  }
  return keys.sort();
}

/** Kills the connections named `name`; returns how many. */
async function killClient(admin: ReturnType<typeof createClient>, name: string) {
  const ids = (await admin.clientList())
    .filter((client) => client.name === name)
    .map((client) => client.id);
  for (const id of ids) await admin.clientKill({ filter: "ID", id });
  return ids.length;
}

function randomHex(): string {
  return [...crypto.getRandomValues(new Uint8Array(6))]
    .map((byte) => byte.toString(16).padStart(2, "0"))
    .join("");
}

/** A TCP forwarder to a local port that can be cut (listener and connections) and reopened. */
class TcpProxy {
  readonly port = freePort();
  #listener: Deno.Listener | undefined;
  readonly #conns = new Set<Deno.Conn>();
  readonly #tasks = new Set<Promise<void>>();

  constructor(readonly target: number) {
    this.open();
  }

  open(): void {
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: this.port });
    this.#track(this.#accept(this.#listener));
  }

  async cut(): Promise<void> {
    this.#listener?.close();
    this.#listener = undefined;
    for (const conn of this.#conns) closeQuietly(conn);
    this.#conns.clear();
    while (this.#tasks.size > 0) await Promise.all(this.#tasks);
  }

  async #accept(listener: Deno.Listener): Promise<void> {
    try {
      for await (const client of listener) {
        this.#conns.add(client);
        const server = await Deno.connect({ hostname: "127.0.0.1", port: this.target });
        this.#conns.add(server);
        this.#track(pump(client, server));
        this.#track(pump(server, client));
      }
    } catch {
      // The listener was closed by cut().
    }
  }

  #track(task: Promise<void>): void {
    this.#tasks.add(task);
    task.finally(() => this.#tasks.delete(task));
  }
}

/** Copies bytes from one connection to the other until either ends, then closes both. */
async function pump(from: Deno.Conn, to: Deno.Conn): Promise<void> {
  const buffer = new Uint8Array(16 * 1024);
  try {
    for (let n = await from.read(buffer); n !== null; n = await from.read(buffer)) {
      for (let sent = 0; sent < n;) sent += await to.write(buffer.subarray(sent, n));
    }
  } catch {
    // One side was closed.
  } finally {
    closeQuietly(from);
    closeQuietly(to);
  }
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}

redisTest(
  "a node seen alive is trusted for half a second; one seen dead is asked again",
  async (cluster) => {
    const a = await cluster.node("A");
    // A long TTL: B's heartbeat (every third of it) must not restore its key during the test.
    const b = await cluster.node("B", { livenessTtlMs: 60_000 });
    await b.presence.claim(2);
    assert.deepEqual([...await a.presence.locate([2])], [[2, "B"]]);
    // B's alive key goes (as if B died and its TTL ran out): A trusts what it just saw, briefly.
    await withAdmin((admin) => admin.del(`${cluster.prefix}node:{B}:alive`));
    assert.deepEqual([...await a.presence.locate([2])], [[2, "B"]]);
    await new Promise((resolve) => setTimeout(resolve, 600));
    assert.deepEqual([...await a.presence.locate([2])], [], "asked again once stale");
    // B is back: seen at once, nothing negative was remembered.
    await withAdmin((admin) => admin.set(`${cluster.prefix}node:{B}:alive`, "1"));
    assert.deepEqual([...await a.presence.locate([2])], [[2, "B"]]);
  },
);

redisTest("a heartbeat costs one command however many users the node holds", async (cluster) => {
  const router = new SingleRedisRouter(
    await openRedisClient(REDIS_URL, "test", () => {}),
    () => {},
  );
  const actions: string[] = [];
  const counting: RedisRouter = {
    slotOf: (key) => router.slotOf(key),
    run(action, key, command) {
      actions.push(action);
      return router.run(action, key, command);
    },
    ping: () => router.ping(),
    onRestored: (listener) => router.onRestored(listener),
    close: () => router.close(),
  };
  const presence = await RedisPresence.start({
    router: counting,
    keys: new RedisKeys(cluster.prefix),
    nodeId: "A",
    livenessTtlMs: 300,
    // The watch for other nodes' ends has its own period (a few commands per node, per second).
    nodeWatchMs: 3_600_000,
    warn: () => {},
    releaseRouter: () => router.close(),
  });
  try {
    for (let id = 1; id <= 200; id++) assert.equal(await presence.claim(id), true);
    actions.length = 0;
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const beats = actions.filter((action) => action === "heartbeat").length;
    assert.ok(beats >= 3, `only ${beats} heartbeats in a second at a period of 100 ms`);
    assert.deepEqual(actions.filter((action) => action !== "heartbeat"), []);
  } finally {
    await presence.close();
  }
});

redisTest("users whose keys Redis lost are marked again by the next heartbeat", async (cluster) => {
  const a = await cluster.node("A", { livenessTtlMs: 600 });
  const b = await cluster.node("B");
  const recovered: number[] = [];
  a.presence.onRecovered?.(() => recovered.push(Date.now()));
  for (const id of [1, 2, 3]) assert.equal(await a.presence.claim(id), true);
  // As after a restart of Redis without persistence: A's alive key and user keys are gone.
  await withAdmin((admin) =>
    admin.del([
      `${cluster.prefix}node:{A}:alive`,
      `${cluster.prefix}user:1`,
      `${cluster.prefix}user:3`,
    ])
  );
  assert.deepEqual([...await b.presence.locate([1, 2, 3])], []);
  await waitFor(async () => (await b.presence.locate([1, 2, 3])).size === 3, "users marked again");
  assert.equal(await b.presence.claim(3), false);
  await waitFor(() => recovered.length > 0, "the recovery report");
});

redisTest(
  "after a failover a node re-marks only its users in the slots that moved",
  async (cluster) => {
    const router = new SingleRedisRouter(
      await openRedisClient(REDIS_URL, "test", () => {}),
      () => {},
    );
    const keys = new RedisKeys(cluster.prefix);
    const restored: RestoredListener[] = [];
    const remarked: string[] = [];
    const shardLike: RedisRouter = {
      slotOf: (key) => calculateSlot(key),
      run(action, key, command) {
        if (action === "re-marking users" && key.startsWith(`${cluster.prefix}user:`)) {
          remarked.push(key);
        }
        return router.run(action, key, command);
      },
      ping: () => router.ping(),
      onRestored: (listener) => restored.push(listener),
      close: () => router.close(),
    };
    const presence = await RedisPresence.start({
      router: shardLike,
      keys,
      nodeId: "A",
      livenessTtlMs: 60_000,
      warn: () => {},
      releaseRouter: () => router.close(),
    });
    const recovered: number[] = [];
    presence.onRecovered?.(() => recovered.push(1));
    try {
      const users = Array.from({ length: 30 }, (_, i) => i + 1);
      for (const id of users) assert.equal(await presence.claim(id), true);
      // The "failed-over shard" holds the slots of users 1-10; it lost user 2's key.
      const moved = new Set(users.slice(0, 10).map((id) => calculateSlot(keys.user(id))));
      await withAdmin((admin) => admin.del(keys.user(2)));
      for (const listener of restored) listener(moved);
      await waitFor(() => recovered.length > 0, "the repair");
      const inMoved = users.filter((id) => moved.has(calculateSlot(keys.user(id))));
      assert.deepEqual(remarked.sort(), inMoved.map((id) => keys.user(id)).sort());
      assert.equal(await withAdmin((admin) => admin.get(keys.user(2))), "A");
    } finally {
      await presence.close();
    }
  },
);

redisTest(
  "the node watch reports a node that started again, and one that shut down",
  async (cluster) => {
    const router = new SingleRedisRouter(
      await openRedisClient(REDIS_URL, "watch-test", () => {}),
      () => {},
    );
    const watch = new RedisNodeWatch({
      router,
      keys: new RedisKeys(cluster.prefix),
      nodeId: "W",
      periodMs: 3_600_000,
      warn: () => {},
    });
    const gone: string[] = [];
    watch.onGone((nodeId) => gone.push(nodeId));
    // The earlier life stays connected but stops checking (and re-announcing) on its own.
    const quiet = { nodeWatchMs: 3_600_000 };
    try {
      const first = await cluster.node("A", quiet);
      await first.presence.clearStale();
      await watch.check();
      assert.deepEqual(gone, []);
      const again = await cluster.node("A", quiet);
      await again.presence.clearStale();
      await watch.check();
      await watch.check();
      assert.deepEqual(gone, ["A"], "a new life: the earlier one ended, reported once");
      await again.presence.close();
      await watch.check();
      assert.deepEqual(gone, ["A", "A"], "it shut down");
    } finally {
      await watch.close();
      await router.close();
    }
  },
);
