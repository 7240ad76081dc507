// Backend outages under a message storm: two servers behind nginx on a private redis-server that
// is killed and restarted (empty) mid-storm, and on MariaDB reached through a relay that is cut
// for a second and a half. No acknowledged message may be lost, and every request the servers
// could not serve must be answered with errno 9 (or 8), never left unanswered. What the Redis
// outage kept from the recipients must reach them without a fresh login.

import assert from "node:assert/strict";
import {
  freshDatabase,
  MYSQL_HOST,
  MYSQL_PORT,
  PASSWORD,
  seedChat,
} from "./support/chat_fixture.ts";
import { ChatLink } from "./support/chat_link.ts";
import { ChatCluster } from "./support/chat_cluster.ts";
import { nginxInstalled } from "./support/nginx.ts";
import { Prng } from "./support/prng.ts";
import {
  type RedisServer,
  redisServerInstalled,
  startRedisServer,
} from "./support/redis_server.ts";
import { freePort, serviceAvailable, tcpOpen } from "./support/services.ts";
import { planStorm, sleep, Storm, within } from "./support/storm.ts";
import { formatReport, StormLedger } from "./support/storm_ledger.ts";
import { startRelay, type TcpRelay } from "./support/tcp_relay.ts";

const USERS = 200;
const GROUP_SIZE = 8;
const PROBES = 10;
const MESSAGES_PER_USER = 12;

const ready = await serviceAvailable("MariaDB", () => tcpOpen(MYSQL_HOST, MYSQL_PORT)) &&
  await serviceAvailable("redis-server", redisServerInstalled) &&
  await serviceAvailable("nginx with the stream module", nginxInstalled);

Deno.test({
  name: "outage: Redis restarted and MySQL cut mid-storm, nothing acked is lost, errno 9 said so",
  ignore: !ready,
  async fn() {
    const seed = Prng.seedFrom("STORM_SEED");
    console.log(`outage seed ${seed} (set STORM_SEED=${seed} to replay its plan)`);
    const prng = new Prng(seed);
    const database = freshDatabase("chat_outage");
    let redis: RedisServer | undefined;
    let relay: TcpRelay | undefined;
    let cluster: ChatCluster | undefined;
    let storm: Storm | undefined;
    try {
      const seeded = await seedChat(database.url(), USERS + 1, GROUP_SIZE);
      const bystander = seeded.userIds.pop()!;
      redis = await startRedisServer();
      relay = startRelay(freePort(), { hostname: MYSQL_HOST, port: MYSQL_PORT });
      cluster = await ChatCluster.start({
        db: database.url(relay.port),
        redis: redis.url,
        redisPrefix: "outage:",
        nodeIds: ["node-a", "node-b"],
        args: ["--log-level", "warn"],
      });
      const ledger = new StormLedger();
      const plans = planStorm(seeded, prng, ledger, {
        messagesPerUser: MESSAGES_PER_USER,
        groupShare: 0.2,
      });
      const total = USERS * MESSAGES_PER_USER;
      storm = new Storm({ port: cluster.port, ledger, plans, prng, thinkMs: 150 });
      const running = storm.run();

      await within(60_000, "a fifth of the storm acknowledged", storm.untilAcked(total / 5));
      const redisDownAt = ledger.acked;
      await redis.kill();
      const loginWithoutRedis = await loginErrno(cluster.port, bystander);
      await sleep(1000);
      await redis.start();

      await within(60_000, "half the storm acknowledged", storm.untilAcked(total / 2));
      const mysqlCutAt = ledger.acked;
      await relay.cut();
      const loginWithoutMysql = await loginErrno(cluster.port, bystander);
      await sleep(1500);
      relay.restore();

      await within(90_000, "every message acknowledged", running);
      const probes = await within(90_000, "probes", storm.probeLive(PROBES, prng));
      await storm.settle(500, 10_000);
      await within(60_000, "every client drained", storm.drain());
      ledger.outcome("login", loginWithoutRedis);
      ledger.outcome("login", loginWithoutMysql);
      const report = ledger.report();
      console.log(formatReport("outage", report));
      console.log(
        `  Redis killed at ${redisDownAt} acked, MySQL cut at ${mysqlCutAt} acked; ` +
          `${probes}/${PROBES} probes arrived live afterwards`,
      );

      assert.deepEqual(report.problems, []);
      assert.equal(report.acked, report.planned, "every message was acknowledged in the end");
      assert.equal(report.lost, 0, report.examples.join("\n"));
      assert.equal(report.delivered, report.expected, "a delivery nobody acknowledged");
      // What Redis lost (pushes while a node's subscription or its users' presence was gone)
      // comes back by the servers' recovery sweep, while everyone is still logged in.
      assert.equal(report.deliveredAtDrain, 0, "deliveries that waited for a fresh login");
      const failures = Object.entries(report.outcomes).filter(([label]) => !label.endsWith(" 0"));
      assert.ok(
        failures.every(([label]) => /errno [89]$/.test(label)),
        `every unserved request gets errno 9 or 8: ${JSON.stringify(failures)}`,
      );
      assert.ok(
        (report.outcomes["chat errno 9"] ?? 0) > 0,
        "no chat request met the MySQL outage",
      );
      assert.deepEqual([loginWithoutRedis, loginWithoutMysql], [9, 9], "logins during outages");
      assert.equal(probes, PROBES, "live delivery between the servers works after the outages");
    } catch (error) {
      if (cluster) console.error(cluster.logs().slice(-4000));
      throw error;
    } finally {
      storm?.close();
      await cluster?.stop();
      await relay?.stop();
      await redis?.stop();
      await database.drop();
    }
  },
});

/** The errno of a login attempt (logged out again if it succeeded). */
async function loginErrno(port: number, id: number): Promise<unknown> {
  const link = await ChatLink.connect(port);
  try {
    const reply = await link.request({ msgid: 1, id, password: PASSWORD });
    if (reply.errno === 0) await link.request({ msgid: 3 });
    return reply.errno;
  } finally {
    link.close();
  }
}
