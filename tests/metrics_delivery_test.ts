// What the chat core reports while delivering, without sockets: nodes of an in-process cluster
// with real PrometheusMetrics, checked through their rendered text.

import assert from "node:assert/strict";
import type { Bus, Presence } from "../lib/cluster/types.ts";
import { StorageError } from "../lib/errors.ts";
import type { ChatDeps } from "../lib/handlers/context.ts";
import { PrometheusMetrics } from "../lib/metrics.ts";
import type { Repositories } from "../lib/store/types.ts";
import { settle, TestClient, TestCluster } from "./support/harness.ts";
import { sampleValue } from "./support/metrics_scrape.ts";

interface MeteredNode {
  deps: ChatDeps;
  bus: Bus;
  metrics: PrometheusMetrics;
  /** The value of one sample of this node's metrics. */
  sample(name: string, labels?: Record<string, string>): Promise<number | undefined>;
  client(): TestClient;
}

/** Nodes of a TestCluster, each with real PrometheusMetrics. */
class MeteredCluster {
  readonly nodes = new TestCluster();

  async node(
    nodeId: string,
    tamper: { presence?: (p: Presence) => Presence; store?: (s: Repositories) => Repositories } =
      {},
  ): Promise<MeteredNode> {
    const metrics = new PrometheusMetrics({ version: "test", node: nodeId });
    let bus: Bus | undefined;
    const core = await this.nodes.core(nodeId, {
      ...tamper,
      bus: (inner) => bus = inner,
      metrics,
    });
    return {
      deps: core.deps,
      bus: bus!,
      metrics,
      sample: async (name, labels) => sampleValue(await metrics.render(), name, labels),
      client: () => new TestClient(core),
    };
  }
}

function meteredTest(name: string, body: (cluster: MeteredCluster) => Promise<void>) {
  Deno.test(`metrics delivery: ${name}`, async () => {
    const cluster = new MeteredCluster();
    try {
      await body(cluster);
    } finally {
      await cluster.nodes.close();
    }
  });
}

meteredTest("a message for an offline user is stored and counted as left pending", async (c) => {
  const a = await c.node("a");
  const alice = a.client();
  const aliceId = await alice.register("alice");
  const bobId = await alice.register("bob");
  await alice.login(aliceId);
  assert.equal((await alice.request({ msgid: 6, toid: bobId, msg: "later" })).errno, 0);
  assert.equal(await a.sample("chat_messages_stored_total"), 1);
  assert.equal(await a.sample("chat_offline_deliveries_total"), 1);
  assert.equal(await a.sample("chat_delivery_latency_seconds_count"), 0);
});

meteredTest("a live push here is timed; a retried duplicate is not stored twice", async (c) => {
  const a = await c.node("a");
  const alice = a.client();
  const bob = a.client();
  const aliceId = await alice.register("alice");
  const bobId = await bob.register("bob");
  await alice.login(aliceId);
  await bob.login(bobId);
  const chat = { msgid: 6, toid: bobId, msg: "hi", key: "k1" };
  assert.equal((await alice.request(chat)).errno, 0);
  assert.equal((await alice.request(chat)).errno, 0);
  assert.equal(bob.pushes().length, 2);
  assert.equal(await a.sample("chat_messages_stored_total"), 1);
  assert.equal(await a.sample("chat_delivery_latency_seconds_count"), 2);
  assert.equal(await a.sample("chat_frames_sent_total", { msgid: "6" }), 2);
  assert.equal(await a.sample("chat_offline_deliveries_total"), 0);
});

meteredTest(
  "a push to another node crosses the bus stamped; the receiver sees its lag",
  async (c) => {
    const a = await c.node("a");
    const b = await c.node("b");
    const alice = a.client();
    const bob = b.client();
    const aliceId = await alice.register("alice");
    const bobId = await bob.register("bob");
    await alice.login(aliceId);
    await bob.login(bobId);
    assert.equal((await alice.request({ msgid: 6, toid: bobId, msg: "across" })).errno, 0);
    await settle();
    assert.deepEqual(bob.pushes().map((push) => push.msg), ["across"]);
    assert.equal(await a.sample("chat_offline_deliveries_total"), 0);
    assert.equal(await a.sample("chat_pubsub_envelopes_received_total"), 0);
    assert.equal(await b.sample("chat_pubsub_envelopes_received_total"), 1);
    assert.equal(await b.sample("chat_pubsub_lag_seconds_count"), 1);
    assert.equal(await b.sample("chat_delivery_latency_seconds_count"), 1);
    assert.equal(await a.sample("chat_delivery_latency_seconds_count"), 0);
  },
);

meteredTest("a push for a node no longer listening is left pending", async (c) => {
  const a = await c.node("a");
  const b = await c.node("b");
  const alice = a.client();
  const bob = b.client();
  const aliceId = await alice.register("alice");
  const bobId = await bob.register("bob");
  await alice.login(aliceId);
  await bob.login(bobId);
  await b.bus.close(); // node b's subscriber is gone; its presence still names it
  assert.equal((await alice.request({ msgid: 6, toid: bobId, msg: "lost?" })).errno, 0);
  assert.equal(await a.sample("chat_offline_deliveries_total"), 1);
  assert.equal(await b.sample("chat_pubsub_envelopes_received_total"), 0);
});

meteredTest("presence failing is a cluster error and the push waits", async (c) => {
  let redisUp = true;
  const a = await c.node("a", {
    presence: (presence) => ({
      ...presence,
      locate: (ids) =>
        redisUp
          ? presence.locate(ids)
          : Promise.reject(new StorageError("Redis locate failed", { backend: "cluster" })),
    }),
  });
  const alice = a.client();
  const aliceId = await alice.register("alice");
  const bobId = await alice.register("bob");
  await alice.login(aliceId);
  redisUp = false;
  assert.equal((await alice.request({ msgid: 6, toid: bobId, msg: "queued" })).errno, 0);
  assert.equal(await a.sample("chat_backend_errors_total", { backend: "cluster" }), 1);
  assert.equal(await a.sample("chat_backend_errors_total", { backend: "store" }), 0);
  assert.equal(await a.sample("chat_offline_deliveries_total"), 1);
});

meteredTest("the store failing is a store error and the request gets errno 9", async (c) => {
  const a = await c.node("a", {
    store: (store) => ({
      ...store,
      messages: {
        ...store.messages,
        append: () => Promise.reject(new StorageError("MySQL connection lost")),
      },
    }),
  });
  const alice = a.client();
  const aliceId = await alice.register("alice");
  const bobId = await alice.register("bob");
  await alice.login(aliceId);
  assert.equal((await alice.request({ msgid: 6, toid: bobId, msg: "nope" })).errno, 9);
  assert.equal(await a.sample("chat_backend_errors_total", { backend: "store" }), 1);
  assert.equal(await a.sample("chat_messages_stored_total"), 0);
});
