// A message storm on a real cluster: two servers on MariaDB and Redis behind nginx, 300 clients
// with delivery receipts exchanging thousands of one-to-one and group messages, and one server
// killed with SIGKILL mid-storm and restarted. Every acknowledged message must reach each of its
// recipients exactly once after dedupe by mid, in the order its sender sent it.

import assert from "node:assert/strict";
import { freshDatabase, seedChat } from "./support/chat_fixture.ts";
import { ChatCluster } from "./support/chat_cluster.ts";
import { nginxInstalled } from "./support/nginx.ts";
import { Prng } from "./support/prng.ts";
import { serviceAvailable, tcpOpen } from "./support/services.ts";
import { planStorm, sleep, Storm, within } from "./support/storm.ts";
import { formatReport, StormLedger } from "./support/storm_ledger.ts";

const USERS = 300;
const GROUP_SIZE = 10;
const PROBES = 10;
const MESSAGES_PER_USER = 12;

const ready = await serviceAvailable("MariaDB", () => tcpOpen("127.0.0.1", 3306)) &&
  await serviceAvailable("Redis", () => tcpOpen("127.0.0.1", 6379)) &&
  await serviceAvailable("nginx with the stream module", nginxInstalled);

Deno.test({
  name: "storm: 300 clients, a server killed and restarted mid-storm, nothing acked is lost",
  ignore: !ready,
  async fn() {
    const seed = Prng.seedFrom("STORM_SEED");
    console.log(`storm seed ${seed} (set STORM_SEED=${seed} to replay its plan)`);
    const prng = new Prng(seed);
    const database = freshDatabase("chat_storm");
    let cluster: ChatCluster | undefined;
    let storm: Storm | undefined;
    try {
      const seeded = await seedChat(database.url(), USERS, GROUP_SIZE);
      cluster = await ChatCluster.start({
        db: database.url(),
        redis: "redis://127.0.0.1:6379",
        redisPrefix: `storm:${seed}:${Date.now()}:`,
        nodeIds: ["node-a", "node-b"],
        args: ["--log-level", "warn"],
      });
      const ledger = new StormLedger();
      const plans = planStorm(seeded, prng, ledger, {
        messagesPerUser: MESSAGES_PER_USER,
        groupShare: 0.2,
      });
      storm = new Storm({ port: cluster.port, ledger, plans, prng, thinkMs: 150, dropShare: 0.03 });
      const started = Date.now();
      const running = storm.run();
      await within(60_000, "a third of the storm acknowledged", storm.untilAcked(USERS * 4));
      const killedAt = ledger.acked;
      const onKilledNode = storm.users.filter((user) => user.node === "node-b").length;
      await cluster.kill("node-b");
      await sleep(500);
      await cluster.restart("node-b");
      await within(90_000, "every message acknowledged", running);
      const stormMs = Date.now() - started;
      const { logins, reconnected } = storm.reconnects;
      const probes = await within(90_000, "probes", storm.probeLive(PROBES, prng));
      await storm.settle(500, 10_000);
      await within(60_000, "every client drained", storm.drain());
      const report = ledger.report();
      console.log(formatReport("storm", report));
      console.log(
        `  killed node-b at ${killedAt} acked with ${onKilledNode} clients on it; ` +
          `${reconnected} clients reconnected; ` +
          `${logins} logins; storm took ${stormMs} ms; ${probes}/${PROBES} probes arrived live`,
      );
      assert.deepEqual(report.problems, []);
      assert.equal(report.acked, report.planned, "every message was acknowledged in the end");
      assert.ok(report.planned >= USERS * MESSAGES_PER_USER);
      assert.ok(onKilledNode > 0 && killedAt < report.planned, "the kill was not mid-storm");
      assert.equal(report.lost, 0, report.examples.join("\n"));
      assert.equal(report.delivered, report.expected, "a delivery nobody acknowledged");
      assert.equal(report.orderViolations, 0, report.examples.join("\n"));
      assert.equal(report.deliveredAtDrain, 0, "pending messages waited past a login");
      assert.equal(probes, PROBES, "live delivery between the servers works after the restart");
    } catch (error) {
      if (cluster) console.error(cluster.logs().slice(-4000));
      throw error;
    } finally {
      storm?.close();
      await cluster?.stop();
      await database.drop();
    }
  },
});
