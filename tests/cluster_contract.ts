// The one contract every Presence/Bus implementation must pass (in-process and Redis run it).

import assert from "node:assert/strict";
import type { Bus, BusMessage, Envelope, Presence, RosterEnvelope } from "../lib/cluster/types.ts";

export interface ClusterNode {
  presence: Presence;
  bus: Bus;
}

/** Nodes sharing one fresh, empty cluster. `close` closes every node it made (idempotent). */
export interface TestCluster {
  node(nodeId: string): Promise<ClusterNode>;
  /** Plays the sudden death of a node: it stops being alive without a word. */
  kill(nodeId: string): Promise<void>;
  close(): Promise<void>;
}

/** Registers the contract tests for one implementation. */
export function clusterContract(
  name: string,
  makeCluster: () => Promise<TestCluster>,
  ignore = false,
) {
  const test = (title: string, body: (cluster: TestCluster) => Promise<void>) =>
    Deno.test({
      name: `${name} cluster: ${title}`,
      ignore,
      async fn() {
        const cluster = await makeCluster();
        try {
          await body(cluster);
        } finally {
          await cluster.close();
        }
      },
    });

  test("a user is claimed once in the whole cluster", async (cluster) => {
    const a = await cluster.node("A");
    const b = await cluster.node("B");
    assert.equal(a.presence.nodeId, "A");
    assert.equal(await a.presence.claim(1), true);
    assert.equal(await a.presence.claim(1), false);
    assert.equal(await b.presence.claim(1), false);
    assert.equal(await b.presence.claim(2), true);
  });

  test("only the holder releases a user, who can then be claimed again", async (cluster) => {
    const a = await cluster.node("A");
    const b = await cluster.node("B");
    await a.presence.claim(1);
    await b.presence.release(1);
    assert.deepEqual(await b.presence.locate([1]), new Map([[1, "A"]]));
    assert.equal(await b.presence.claim(1), false);
    await a.presence.release(1);
    assert.deepEqual(await a.presence.locate([1]), new Map());
    assert.equal(await b.presence.claim(1), true);
  });

  test("locate finds users on every node and omits offline ones", async (cluster) => {
    const a = await cluster.node("A");
    const b = await cluster.node("B");
    await a.presence.claim(1);
    await a.presence.claim(3);
    await b.presence.claim(2);
    const expected = new Map([[1, "A"], [2, "B"], [3, "A"]]);
    assert.deepEqual(await b.presence.locate([1, 2, 3, 4]), expected);
    assert.deepEqual(await a.presence.locate([4, 5]), new Map());
    assert.deepEqual(await a.presence.locate([]), new Map());
  });

  test("clearStale forgets this node's earlier life only", async (cluster) => {
    const before = await cluster.node("A");
    const b = await cluster.node("B");
    await before.presence.claim(1);
    await b.presence.claim(2);
    const after = await cluster.node("A");
    await after.presence.clearStale();
    assert.deepEqual(await b.presence.locate([1, 2]), new Map([[2, "B"]]));
    assert.equal(await after.presence.claim(1), true);
    assert.equal(await after.presence.claim(2), false);
  });

  test("a release racing a new claim on one node leaves what a restart clears", async (cluster) => {
    const a = await cluster.node("A");
    const b = await cluster.node("B");
    const users = [1, 2, 3, 4, 5];
    for (const id of users) {
      assert.equal(await a.presence.claim(id), true);
      const [, claimed] = await Promise.all([a.presence.release(id), a.presence.claim(id)]);
      assert.equal(claimed, true, "the claim after the release wins");
    }
    // A restarts with the same id (as after kill -9): it must find its users to clear them.
    const restarted = await cluster.node("A");
    await restarted.presence.clearStale();
    for (const id of users) assert.equal(await b.presence.claim(id), true, `user ${id} is free`);
  });

  test("closing a node takes its users offline for the others", async (cluster) => {
    const a = await cluster.node("A");
    const b = await cluster.node("B");
    await a.presence.claim(1);
    await b.presence.claim(2);
    await a.presence.close();
    await a.bus.close();
    assert.deepEqual(await b.presence.locate([1, 2]), new Map([[2, "B"]]));
    assert.equal(await b.presence.claim(1), true);
  });

  test("presence epochs grow with each session of a user", async (cluster) => {
    const a = await cluster.node("A");
    const b = await cluster.node("B");
    const first = await a.presence.nextEpoch(1);
    const second = await b.presence.nextEpoch(1);
    const other = await a.presence.nextEpoch(2);
    assert.ok(second > first, `${second} > ${first}`);
    assert.ok(Number.isSafeInteger(other));
    assert.deepEqual(await b.presence.epochs([1, 2, 3]), new Map([[1, second], [2, other]]));
    assert.deepEqual(await b.presence.epochs([]), new Map());
  });

  test("a node that dies is reported gone to the others, and its users are offline", async (cluster) => {
    const a = await cluster.node("A");
    const b = await cluster.node("B");
    await a.presence.clearStale();
    await b.presence.clearStale();
    const gone: string[] = [];
    b.presence.onNodeGone((nodeId) => gone.push(nodeId));
    await a.presence.claim(1);
    await b.presence.claim(2);
    await cluster.kill("A");
    await waitFor(() => gone.includes("A"), "node A reported gone");
    assert.deepEqual(await b.presence.locate([1, 2]), new Map([[2, "B"]]));
    assert.ok(!gone.includes("B"), "a node is never told of its own end");
  });

  test("ping answers true while the backend is up", async (cluster) => {
    const a = await cluster.node("A");
    assert.equal(await a.presence.ping(), true);
  });

  test("publish delivers an envelope intact to the subscribed node", async (cluster) => {
    const a = await cluster.node("A");
    const b = await cluster.node("B");
    const inbox = collect(a.bus, "A");
    await inbox.ready;
    const envelope: Envelope = {
      to: [1, 2],
      push: { msgid: 6, msg: '你好, мир 🐉 "quoted"\n', nested: { list: [1, null, { x: true }] } },
    };
    assert.equal(await b.bus.publish("A", envelope), true);
    assert.equal(await a.bus.publish("A", { to: [3], push: { msg: "to myself" } }), true);
    assert.deepEqual(await inbox.next(), envelope);
    assert.deepEqual(await inbox.next(), { to: [3], push: { msg: "to myself" } });
  });

  test("envelopes asking for a report, and reports, arrive intact", async (cluster) => {
    const a = await cluster.node("A");
    const b = await cluster.node("B");
    const inbox = collect(a.bus, "A");
    await inbox.ready;
    const asking: Envelope = { to: [4], push: { msg: "direct?" }, reply: { node: "B", ticket: 7 } };
    const reports: BusMessage = {
      reports: [{ ticket: 7, taken: [4] }, { ticket: 8, taken: [] }],
      sentAt: 1_700_000_000_000,
    };
    assert.equal(await b.bus.publish("A", asking), true);
    assert.equal(await b.bus.publish("A", reports), true);
    assert.deepEqual(await inbox.next(), asking);
    assert.deepEqual(await inbox.next(), reports);
  });

  test("roster updates arrive intact, with and without their subject", async (cluster) => {
    const a = await cluster.node("A");
    const b = await cluster.node("B");
    const inbox = collect(a.bus, "A");
    await inbox.ready;
    const presence: RosterEnvelope = {
      to: [1, 2],
      event: { msgid: 17, id: 3, name: "张三 🐉", state: "online" },
      subject: { node: "B", epoch: 1_765_000_000_001 },
    };
    const roster: RosterEnvelope = {
      to: [4],
      event: { msgid: 18, event: "member_left", groupid: 5, id: 3, creator: 6 },
    };
    assert.equal(await b.bus.publish("A", presence), true);
    assert.equal(await b.bus.publish("A", roster), true);
    assert.deepEqual(await inbox.next(), presence);
    assert.deepEqual(await inbox.next(), roster);
  });

  test("publish to a node nobody subscribes to returns false", async (cluster) => {
    const a = await cluster.node("A");
    await cluster.node("B");
    assert.equal(await a.bus.publish("B", { to: [1], push: { msg: "lost?" } }), false);
    assert.equal(await a.bus.publish("nowhere", { to: [1], push: { msg: "lost?" } }), false);
  });

  test("a closed bus receives nothing more", async (cluster) => {
    const a = await cluster.node("A");
    const b = await cluster.node("B");
    await collect(a.bus, "A").ready;
    await a.bus.close();
    assert.equal(await b.bus.publish("A", { to: [1], push: {} }), false);
  });
}

/** Envelopes received by `bus` for `nodeId`, in order; `next` waits up to 10 s for one. */
export function collect(bus: Bus, nodeId: string) {
  const queue: BusMessage[] = [];
  const ready = bus.subscribe(nodeId, (envelope) => queue.push(envelope));
  return {
    ready,
    received: queue,
    async next(): Promise<BusMessage> {
      await waitFor(() => queue.length > 0, `an envelope for ${nodeId}`);
      return queue.shift()!;
    },
  };
}

/** Polls `condition` until it holds; fails after `timeoutMs`. */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!await condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
