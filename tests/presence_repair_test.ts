// PresenceRepair on a fake router (an in-memory key space, slots by user id): what a repair marks
// and releases again, in which slots, one repair at a time, and a failed one retried. The same
// repair on a real Redis and a real Redis Cluster runs in cluster_redis_test.ts and
// cluster_rediscluster_test.ts (restarts, flushes, failovers).

import assert from "node:assert/strict";
import type { RedisClient } from "../lib/cluster/redis_client.ts";
import { RedisKeys } from "../lib/cluster/redis_keys.ts";
import { PresenceRepair } from "../lib/cluster/redis_presence_repair.ts";
import type { RedisRouter, RestoredListener } from "../lib/cluster/redis_router.ts";

const keys = new RedisKeys("t:");
const NODE = "n1";

/** Keys in memory; a user's key is in slot `userId % 3`, a node's keys in slot 9. */
class FakeRouter implements RedisRouter {
  readonly strings = new Map<string, string>();
  readonly sets = new Map<string, Set<string>>();
  /** While set, every command fails. */
  down = false;
  /** While set, every command waits for it to resolve. */
  gate: Promise<void> | null = null;

  slotOf(key: string): number {
    const user = key.match(/user:(\d+)$/);
    return user ? Number(user[1]) % 3 : 9;
  }

  async run<T>(action: string, _key: string, command: (client: RedisClient) => Promise<T>) {
    await this.gate;
    if (this.down) throw new Error(`Redis ${action} failed: connection lost`);
    const client = {
      set: (key: string, value: string, options: { condition: "NX" }) => {
        assert.equal(options.condition, "NX");
        if (this.strings.has(key)) return Promise.resolve(null);
        this.strings.set(key, value);
        return Promise.resolve("OK");
      },
      sAdd: (key: string, members: string[]) => {
        const set = this.sets.get(key) ?? new Set();
        for (const member of members) set.add(member);
        this.sets.set(key, set);
        return Promise.resolve(members.length);
      },
    };
    return await command(client as unknown as RedisClient);
  }

  ping() {
    return Promise.resolve(true);
  }

  onRestored(_listener: RestoredListener): void {}

  close() {
    return Promise.resolve();
  }
}

function setup() {
  const router = new FakeRouter();
  const held = new Set<number>();
  const clock = { now: 1_000_000 };
  const releasedAgain: number[] = [];
  const warnings: string[] = [];
  let aliveRefreshes = 0;
  let recoveries = 0;
  const repair = new PresenceRepair({
    router,
    keys,
    nodeId: NODE,
    warn: (message) => warnings.push(message),
    now: () => clock.now,
    held,
    refreshAlive: () => Promise.resolve(aliveRefreshes++),
    releaseAgain: (userId) => {
      if (!held.has(userId)) releasedAgain.push(userId);
      return Promise.resolve();
    },
  });
  repair.onRepaired(() => recoveries++);
  return {
    router,
    held,
    clock,
    repair,
    releasedAgain,
    warnings,
    get aliveRefreshes() {
      return aliveRefreshes;
    },
    get recoveries() {
      return recoveries;
    },
  };
}

/** Lets the repair under way (and any queued after it) run to the end. */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setTimeout(resolve, 0));
}

Deno.test("a repair of every slot marks again the held users whose key is gone, never another node's", async () => {
  const t = setup();
  for (const userId of [1, 2, 3, 4]) t.held.add(userId);
  t.router.strings.set(keys.user(2), NODE); // survived
  t.router.strings.set(keys.user(3), "n2"); // another node took the user meanwhile
  t.repair.soon(null);
  await settle();
  assert.equal(t.router.strings.get(keys.user(1)), NODE);
  assert.equal(t.router.strings.get(keys.user(3)), "n2", "never taken over");
  assert.equal(t.router.strings.get(keys.user(4)), NODE);
  assert.deepEqual([...t.router.sets.get(keys.users(NODE))!].sort(), ["1", "2", "3", "4"]);
  assert.equal(t.aliveRefreshes, 1, "the alive key first");
  assert.equal(t.recoveries, 1, "listeners told: users were marked again");

  t.repair.soon(null);
  await settle();
  assert.equal(t.recoveries, 1, "nothing marked this time: nobody told");
});

Deno.test("a repair of some slots touches only the users whose keys are there", async () => {
  const t = setup();
  for (const userId of [3, 4, 5, 6]) t.held.add(userId); // slots 0, 1, 2, 0
  t.repair.released(7); // slot 1
  t.repair.released(9); // slot 0
  t.repair.soon(new Set([0]));
  await settle();
  assert.deepEqual([...t.router.strings.keys()].sort(), [keys.user(3), keys.user(6)]);
  assert.deepEqual(t.releasedAgain, [9]);
});

Deno.test("releases of the last 10 s are repeated; older ones and users claimed since are not", async () => {
  const t = setup();
  t.repair.released(1);
  t.clock.now += 5_000;
  t.repair.released(2);
  t.repair.released(3);
  t.repair.claimed(3);
  t.clock.now += 5_001; // user 1's release is 10.001 s old
  t.repair.soon(null);
  await settle();
  assert.deepEqual(t.releasedAgain, [2]);
});

Deno.test("repairs run one at a time; those asked for meanwhile run once after, for all their slots", async () => {
  const t = setup();
  for (const userId of [3, 4, 5]) t.held.add(userId); // slots 0, 1, 2
  const { promise: opened, resolve: open } = Promise.withResolvers<void>();
  t.router.gate = opened;
  t.repair.soon(new Set([0]));
  await settle();
  t.repair.soon(new Set([1]));
  t.repair.soon(new Set([2]));
  await settle();
  assert.equal(t.aliveRefreshes, 1, "the second waits for the first");
  t.router.gate = null;
  open();
  await settle();
  assert.equal(t.aliveRefreshes, 2, "one more repair for both slots asked for meanwhile");
  assert.deepEqual([...t.router.strings.keys()].sort(), [3, 4, 5].map((id) => keys.user(id)));
});

Deno.test("a failed repair is reported and due again: the heartbeat's retry runs it", async () => {
  const t = setup();
  t.held.add(1);
  t.router.down = true;
  t.repair.soon(null);
  await settle();
  assert.equal(t.warnings.length, 1);
  assert.match(t.warnings[0], /^presence repair failed, retrying at the next heartbeat: /);
  t.router.down = false;
  t.repair.retryIfDue();
  await settle();
  assert.equal(t.router.strings.get(keys.user(1)), NODE);
  assert.equal(t.recoveries, 1);

  t.repair.retryIfDue();
  await settle();
  assert.equal(t.aliveRefreshes, 2, "nothing due: no repair");
});

Deno.test("after close no repair starts and no listener is told", async () => {
  const t = setup();
  t.held.add(1);
  await t.repair.close();
  t.repair.soon(null);
  await settle();
  assert.equal(t.aliveRefreshes, 0);
  assert.equal(t.recoveries, 0);
});
