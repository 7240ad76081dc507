// The sweep after a cluster outage (lib/redelivery.ts), in process: a bus and a presence that can
// be made to fail and then report their recovery, as the Redis ones do after a reconnect.

import assert from "node:assert/strict";
import { ManualTimers } from "./support/manual_timers.ts";
import type { Bus, BusMessage, Presence, RecoveryListener } from "../lib/cluster/types.ts";
import { StorageError } from "../lib/errors.ts";
import { BACKLOG_BATCH } from "../lib/handlers/backlog.ts";
import { silentLogger } from "../lib/log.ts";
import { PrometheusMetrics } from "../lib/metrics.ts";
import { Redelivery } from "../lib/redelivery.ts";
import type { MessageRepository } from "../lib/store/types.ts";
import { type Backend, backendMatrix, matrixTest } from "./support/backends.ts";
import { settle, TestCluster, until } from "./support/harness.ts";
import { sampleValue } from "./support/metrics_scrape.ts";

const unreachable = () => new StorageError("Redis is away", { backend: "cluster" });

/** A bus that, while down, loses what is published to its node and fails to publish. */
class FlakyBus implements Bus {
  down = false;
  readonly #listeners: RecoveryListener[] = [];

  constructor(readonly inner: Bus) {}

  subscribe(nodeId: string, handler: (message: BusMessage) => void): Promise<void> {
    return this.inner.subscribe(nodeId, (envelope) => {
      if (!this.down) handler(envelope);
    });
  }

  publish(nodeId: string, envelope: BusMessage): Promise<boolean> {
    return this.down ? Promise.reject(unreachable()) : this.inner.publish(nodeId, envelope);
  }

  onRecovered(listener: RecoveryListener): void {
    this.#listeners.push(listener);
  }

  /** Comes back and says so. */
  recover(): void {
    this.down = false;
    for (const listener of this.#listeners) listener();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/** A presence whose lookups fail while down. */
function flakyPresence(inner: Presence, state: { down: boolean }): Presence {
  return {
    nodeId: inner.nodeId,
    claim: (userId) => inner.claim(userId),
    release: (userId) => inner.release(userId),
    locate: (userIds) => state.down ? Promise.reject(unreachable()) : inner.locate(userIds),
    nextEpoch: (userId) => inner.nextEpoch(userId),
    epochs: (userIds) => inner.epochs(userIds),
    clearStale: () => inner.clearStale(),
    onNodeGone: (listener) => inner.onNodeGone(listener),
    ping: () => Promise.resolve(!state.down),
    close: () => inner.close(),
  };
}

const matrix = await backendMatrix();

/** A test on every combination of backends (tests/support/backends.ts). */
function redeliveryTest(
  name: string,
  body: (cluster: TestCluster) => Promise<void>,
  skip: Partial<Record<string, string>> = {},
) {
  const open = async (backend: Backend) => {
    const cluster = await TestCluster.open(backend);
    // A flaky bus drops envelopes without the sender knowing: a direct send then waits for its
    // report until this limit, and makes the message pending.
    cluster.directReportMs = 10;
    return cluster;
  };
  matrixTest(matrix, "redelivery", name, open, body, skip);
}

const msgs = (frames: unknown) => (frames as { msg: string }[]).map((f) => f.msg);

/** Alice on node-a, Bob on node-b (whose bus is flaky), both logged in. */
async function aliceAndBob(c: TestCluster, bobExtra = {}) {
  const bobBus = { bus: undefined as FlakyBus | undefined };
  await c.node("node-b", { bus: (inner) => bobBus.bus = new FlakyBus(inner) });
  const alice = await c.client("node-a");
  const bob = await c.client("node-b");
  const aliceId = await alice.register("alice");
  const bobId = await bob.register("bob");
  await alice.login(aliceId);
  await bob.login(bobId, "pw", bobExtra);
  return { alice, bob, bobId, bobBus: bobBus.bus! };
}

redeliveryTest("what a node missed while its bus was down comes when it is back", async (c) => {
  // Node-a waits for node-b's report of a direct push until the test says the time is up: on a
  // busy machine a report may take long, and a send given up on is routed again (a duplicate).
  const timers = c.timers = new ManualTimers();
  const { alice, bob, bobId, bobBus } = await aliceAndBob(c, { receipts: true });
  await alice.request({ msgid: 6, toid: bobId, msg: "before" });
  await settle();
  assert.deepEqual(msgs(bob.pushes()), ["before"]);
  bobBus.down = true;
  const during = alice.request({ msgid: 6, toid: bobId, msg: "during" });
  await until(() => timers.waiting > 0, "node-a waits for a report");
  timers.fire();
  assert.equal((await during).errno, 0);
  await settle();
  assert.deepEqual(bob.pushes(), [], "the envelope was lost");
  // One outage, several reports (each connection, the presence): one sweep.
  bobBus.recover();
  bobBus.recover();
  await settle();
  bobBus.recover();
  await c.redeliveries.get("node-b")!.idle();
  // Everything pending comes again. "before" is not pending: bob's session took it directly and
  // it awaits his receipt on his delivery cursor, pending only if his session ends without it.
  assert.deepEqual(msgs(bob.pushes()), ["during"]);
  assert.deepEqual(msgs(await c.store.messages.pending(bobId)), ["during"], "receipts decide");
  assert.equal((await bob.request({ msgid: 3 })).errno, 0, "logout");
  assert.deepEqual(msgs(await c.store.messages.pending(bobId)), ["before", "during"]);
});

redeliveryTest("v1 sessions get the sweep in batches and count it delivered", async (c) => {
  const { alice, bob, bobId, bobBus } = await aliceAndBob(c);
  bobBus.down = true;
  const count = BACKLOG_BATCH + 5;
  for (let n = 0; n < count; n++) await alice.request({ msgid: 6, toid: bobId, msg: `m${n}` });
  await settle();
  assert.deepEqual(bob.pushes(), []);
  assert.equal((await c.store.messages.pending(bobId)).length, count);
  bobBus.recover();
  await c.redeliveries.get("node-b")!.idle();
  assert.deepEqual(msgs(bob.pushes()), Array.from({ length: count }, (_, n) => `m${n}`));
  assert.deepEqual(await c.store.messages.pending(bobId), []);
});

redeliveryTest("a sender whose Redis was away forwards what it could not route", async (c) => {
  const state = { down: false };
  let aliceBus: FlakyBus | undefined;
  await c.node("node-a", {
    presence: (inner) => flakyPresence(inner, state),
    bus: (inner) => aliceBus = new FlakyBus(inner),
  });
  const alice = await c.client("node-a");
  const bob = await c.client("node-b");
  const carol = await c.client("node-b");
  const aliceId = await alice.register("alice");
  const bobId = await bob.register("bob");
  const carolId = await carol.register("carol");
  await alice.login(aliceId);
  await bob.login(bobId, "pw", { receipts: true });
  await carol.login(carolId, "pw", { receipts: true });
  state.down = true;
  aliceBus!.down = true;
  await alice.request({ msgid: 6, toid: bobId, msg: "located nowhere" });
  state.down = false;
  await alice.request({ msgid: 6, toid: carolId, msg: "not published" });
  await settle();
  assert.deepEqual([bob.pushes(), carol.pushes()], [[], []]);
  await carol.disconnect();
  aliceBus!.recover();
  await c.redeliveries.get("node-a")!.idle();
  await settle();
  assert.deepEqual(msgs(bob.pushes()), ["located nowhere"]);
  assert.deepEqual(carol.pushes(), [], "offline now: waits for the next login");
  assert.deepEqual(msgs((await carol.login(carolId)).offlinemsg), ["not published"]);
});

redeliveryTest("sessions logging in are left to their backlog", async (c) => {
  const { alice, bob, bobId, bobBus } = await aliceAndBob(c, { receipts: true });
  bobBus.down = true;
  await alice.request({ msgid: 6, toid: bobId, msg: "during" });
  await settle();
  c.nodes.get("node-b")!.delivery.hold(bobId, bob.session);
  bobBus.recover();
  await c.redeliveries.get("node-b")!.idle();
  assert.deepEqual(bob.pushes(), []);
});

redeliveryTest(
  "overlapping triggers run one sweep, then one more; failures are logged",
  async (c) => {
    const { alice, bob, bobId, bobBus } = await aliceAndBob(c, { receipts: true });
    bobBus.down = true;
    await alice.request({ msgid: 6, toid: bobId, msg: "during" });
    await settle();
    const deps = c.nodes.get("node-b")!;
    let reads = 0, reading = 0, most = 0, failing = false;
    const messages: MessageRepository = {
      ...c.store.messages,
      async pending(userId) {
        reads++;
        most = Math.max(most, ++reading);
        await new Promise((resolve) => setTimeout(resolve, 20));
        reading--;
        if (failing) throw new StorageError("database away");
        return await c.store.messages.pending(userId);
      },
    };
    const warnings: string[] = [];
    const redelivery = new Redelivery({
      sessions: deps.sessions,
      delivery: deps.delivery,
      presence: deps.presence,
      messages,
      log: { ...silentLogger, warn: (event) => warnings.push(event) },
    });
    await Promise.all([redelivery.sweep(), redelivery.sweep(), redelivery.sweep()]);
    assert.deepEqual([reads, most], [2, 1]);
    assert.deepEqual(msgs(bob.pushes()), ["during", "during"]);
    failing = true;
    await redelivery.sweep();
    assert.deepEqual(bob.pushes(), []);
    assert.equal(warnings.length, 1, warnings.join("\n"));
    await redelivery.stop();
  },
);

redeliveryTest("what a sweep could not do is retried with backoff until it goes", async (c) => {
  const { alice, bob, bobId, bobBus } = await aliceAndBob(c, { receipts: true });
  const carol = await c.client("node-b");
  const carolId = await carol.register("carol");
  await carol.login(carolId, "pw", { receipts: true });
  bobBus.down = true;
  await alice.request({ msgid: 6, toid: bobId, msg: "to bob" });
  await alice.request({ msgid: 6, toid: carolId, msg: "to carol" });
  await settle();
  const deps = c.nodes.get("node-b")!;
  let failuresLeft = 3;
  const reads: number[] = [];
  const messages: MessageRepository = {
    ...c.store.messages,
    pending(userId) {
      reads.push(userId);
      // Bob's reads fail three times (the database is away too); Carol's go at once.
      if (userId === bobId && failuresLeft-- > 0) {
        return Promise.reject(new StorageError("database away"));
      }
      return c.store.messages.pending(userId);
    },
  };
  const retries: unknown[] = [];
  const metrics = new PrometheusMetrics({ version: "test", node: "node-b" });
  const redelivery = new Redelivery({
    sessions: deps.sessions,
    delivery: deps.delivery,
    presence: deps.presence,
    messages,
    metrics,
    retryFirstMs: 5,
    log: { ...silentLogger, warn: (_event, fields) => retries.push(fields?.retryMs) },
  });
  try {
    await redelivery.sweep();
    assert.deepEqual(msgs(carol.pushes()), ["to carol"]);
    const bobReads = () => reads.filter((id) => id === bobId).length;
    for (let waited = 0; bobReads() < 4 && waited < 1000; waited++) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await redelivery.idle();
    assert.deepEqual(msgs(bob.pushes()), ["to bob"]);
    assert.deepEqual(retries, [5, 10, 20], "backoff doubles");
    assert.deepEqual(msgs(carol.pushes()), [], "only the failed user is retried");
    assert.equal(reads.filter((id) => id === carolId).length, 1);
    const text = await metrics.render();
    assert.equal(sampleValue(text, "chat_redelivery_sweeps_total"), 4, "one sweep, 3 retries");
    assert.equal(sampleValue(text, "chat_redelivered_total"), 2);
    assert.equal(sampleValue(text, "chat_backend_errors_total", { backend: "store" }), 3);
  } finally {
    await redelivery.stop();
  }
});
