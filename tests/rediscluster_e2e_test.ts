// Two chat servers on a real Redis Cluster (3 masters, 3 replicas) and MariaDB, behind nginx:
// users on different servers chat and see each other online; then, while a storm of
// receipt-sending clients and a probe pair chat both ways across the servers, the master that
// owns node-a's bus channel is killed with SIGKILL. Its replica takes over; no acknowledged
// message may be lost, chat must be acknowledged again within 15 s, what the failover held up
// must arrive without a fresh login, and both chat servers must still be up.

import assert from "node:assert/strict";
import {
  freshDatabase,
  MYSQL_HOST,
  MYSQL_PORT,
  PASSWORD,
  seedChat,
} from "./support/chat_fixture.ts";
import { ChatCluster } from "./support/chat_cluster.ts";
import { nginxInstalled } from "./support/nginx.ts";
import { Prng } from "./support/prng.ts";
import { type RedisClusterFixture, startRedisCluster } from "./support/redis_cluster.ts";
import { serviceAvailable, tcpOpen } from "./support/services.ts";
import { planStorm, sleep, Storm, within } from "./support/storm.ts";
import { formatReport, StormLedger } from "./support/storm_ledger.ts";
import { WireClient } from "./support/wire_client.ts";

const USERS = 100;
const GROUP_SIZE = 8;
const MESSAGES_PER_USER = 12;
const PROBES = 10;
const ACK_GAP_LIMIT_MS = 15_000;

let redis: RedisClusterFixture | undefined;
const ready = await serviceAvailable("MariaDB", () => tcpOpen(MYSQL_HOST, MYSQL_PORT)) &&
  await serviceAvailable("nginx with the stream module", nginxInstalled) &&
  await serviceAvailable("a Redis Cluster (redis-server 7 and redis-cli)", async () => {
    redis = await startRedisCluster();
    return true;
  });

Deno.test({
  name: "redis-cluster e2e: chat across servers, then kill -9 of a master loses nothing",
  ignore: !ready,
  async fn() {
    const seed = Prng.seedFrom("STORM_SEED");
    console.log(`redis-cluster e2e seed ${seed} (set STORM_SEED=${seed} to replay its plan)`);
    const prng = new Prng(seed);
    const database = freshDatabase("chat_rcluster");
    const prefix = `e2e${crypto.randomUUID().slice(0, 8)}:`;
    let cluster: ChatCluster | undefined;
    let storm: Storm | undefined;
    const probe = new ProbePair();
    try {
      const seeded = await seedChat(database.url(), USERS + 2, GROUP_SIZE);
      const [aliceId, bobId] = seeded.userIds.splice(0, 2);
      seeded.groups = seeded.groups.filter((group) =>
        !group.members.includes(aliceId) && !group.members.includes(bobId)
      );
      cluster = await ChatCluster.start({
        db: database.url(),
        redisCluster: redis!.seeds.join(","),
        redisPrefix: prefix,
        nodeIds: ["node-a", "node-b"],
        args: ["--log-level", "warn"],
      });
      const portA = cluster.ports.get("node-a")!;
      const portB = cluster.ports.get("node-b")!;

      // Cross-server chat and presence.
      const alice = await WireClient.connect(portA);
      assert.equal((await alice.login(aliceId, PASSWORD)).errno, 0);
      assert.equal((await alice.request({ msgid: 7, friendid: bobId })).errno, 0);
      const bob = await WireClient.connect(portB);
      const bobView = await bob.login(bobId, PASSWORD);
      assert.equal(bobView.errno, 0);
      assert.deepEqual(
        (bobView.friends as { id: number; state: string }[]).map((f) => [f.id, f.state]),
        [[aliceId, "online"]],
        "bob, on node-b, sees alice online on node-a",
      );
      const intruder = await WireClient.connect(portB);
      assert.equal((await intruder.login(aliceId, PASSWORD)).errno, 2, "online once cluster-wide");
      intruder.close();
      assert.equal((await alice.request({ msgid: 6, toid: bobId, msg: "across" })).errno, 0);
      await bob.until(() => bob.pushes.some((p) => p.msg === "across"), "alice's push on node-b");
      assert.equal((await bob.request({ msgid: 6, toid: aliceId, msg: "back" })).errno, 0);
      await alice.until(() => alice.pushes.some((p) => p.msg === "back"), "bob's push on node-a");

      // The storm, the probe pair, and the kill.
      const ledger = new StormLedger();
      const plans = planStorm(seeded, prng, ledger, {
        messagesPerUser: MESSAGES_PER_USER,
        groupShare: 0.2,
      });
      storm = new Storm({ port: cluster.port, ledger, plans, prng, thinkMs: 150 });
      const running = storm.run();
      const probing = probe.run(alice, aliceId, bob, bobId);
      const total = USERS * MESSAGES_PER_USER;
      await within(60_000, "a third of the storm acknowledged", storm.untilAcked(total / 3));
      const busy = `${prefix}bus:{node-a}`;
      const master = await redis!.masterOf(busy);
      const killedAt = Date.now();
      await redis!.kill(master);
      console.log(`  killed master ${master} (owner of ${busy}) at ${ledger.acked} acked`);

      await within(120_000, "every message acknowledged", running);
      await sleep(Math.max(0, killedAt + 20_000 - Date.now()));
      await probe.stop();
      await probing;
      const probes = await within(90_000, "probes", storm.probeLive(PROBES, prng));
      await storm.settle(500, 15_000);
      await within(60_000, "every client drained", storm.drain());
      const report = ledger.report();
      console.log(formatReport("redis-cluster failover", report));
      const gap = probe.longestGapAround(killedAt);
      console.log(
        `  probe pair: ${probe.acked} acked, longest wait for an ACK around the kill ${gap} ms; ` +
          `${probes}/${PROBES} live probes afterwards`,
      );

      assert.deepEqual(report.problems, []);
      assert.equal(report.acked, report.planned, "every message was acknowledged in the end");
      assert.equal(report.lost, 0, report.examples.join("\n"));
      assert.equal(report.delivered, report.expected, "a delivery nobody acknowledged");
      assert.equal(report.deliveredAtDrain, 0, "deliveries that waited for a fresh login");
      const failures = Object.entries(report.outcomes).filter(([label]) => !label.endsWith(" 0"));
      assert.ok(
        failures.every(([label]) => /errno [89]$/.test(label)),
        `every unserved request gets errno 9 or 8: ${JSON.stringify(failures)}`,
      );
      assert.deepEqual(probe.unexpected, [], "probe replies other than errno 0 or 9");
      assert.ok(gap < ACK_GAP_LIMIT_MS, `chat was not acknowledged for ${gap} ms`);
      assert.equal(probes, PROBES, "live delivery between the servers works after the failover");
      for (const [nodeId, port] of cluster.ports) {
        assert.ok(cluster.servers.has(nodeId) && await tcpOpen("127.0.0.1", port), `${nodeId} up`);
      }
      alice.close();
      bob.close();
    } catch (error) {
      if (cluster) console.error(cluster.logs().slice(-4000));
      throw error;
    } finally {
      await probe.stop();
      storm?.close();
      await cluster?.stop();
      await redis?.stop();
      await database.drop();
    }
  },
});

/** Two users on different servers sending to each other in turn, timing every ACK. */
class ProbePair {
  readonly ackTimes: number[] = [];
  readonly unexpected: string[] = [];
  #stopped = false;

  get acked(): number {
    return this.ackTimes.length;
  }

  async run(a: WireClient, aId: number, b: WireClient, bId: number): Promise<void> {
    for (let n = 0; !this.#stopped; n++) {
      const [from, to] = n % 2 === 0 ? [a, bId] : [b, aId];
      const key = `probe-pair-${n}`;
      for (let attempt = 0; !this.#stopped; attempt++) {
        const reply = await from.request({ msgid: 6, toid: to, msg: key, key });
        if (reply.errno === 0) {
          this.ackTimes.push(Date.now());
          break;
        }
        if (reply.errno !== 9) this.unexpected.push(JSON.stringify(reply));
        await sleep(100);
      }
      await sleep(100);
    }
  }

  stop(): Promise<void> {
    this.#stopped = true;
    return Promise.resolve();
  }

  /** The longest time without an ACK from 1 s before `at` to the last ACK. */
  longestGapAround(at: number): number {
    const times = this.ackTimes.filter((time) => time >= at - 1000);
    let longest = times.length > 0 ? times[0] - at : Infinity;
    for (let i = 1; i < times.length; i++) longest = Math.max(longest, times[i] - times[i - 1]);
    return longest;
  }
}
