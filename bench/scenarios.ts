// The scenarios of `deno task bench`. Each runs a load against the real chat server (server.ts
// in its own process), then the same load, with the same generator and client count, against
// the echo relay baseline (bench/echo_server.ts), and returns both sides for the report.

import { nginxInstalled, startNginx } from "../tests/support/nginx.ts";
import { tcpOpen } from "../tests/support/services.ts";
import { track } from "./cleanup.ts";
import type { Target } from "./client_set.ts";
import type { Timing } from "./commands.ts";
import { MYSQL, mysqlDatabase, PASSWORD, type Seeded, seedStore } from "./fixtures.ts";
import type { Generator } from "./generator.ts";
import { type Service, startService } from "./processes.ts";
import { fanoutSide, idleSide, openAnonymous, pairsSide, requestSide, type Side } from "./sides.ts";

const SERVER = new URL("../server.ts", import.meta.url).pathname;
const RELAY = new URL("./echo_server.ts", import.meta.url).pathname;
const REDIS = { host: "127.0.0.1", port: 6379 };

export interface Profile {
  timing: Timing;
  pairs: number;
  clusterPairs: number;
  groupSizes: number[];
  authClients: number;
  idleClients: number;
  scaling: number[];
}

export const PROFILES: Record<"quick" | "full", Profile> = {
  quick: {
    timing: { warmupMs: 300, measureMs: 1_000, drainMs: 3_000 },
    pairs: 20,
    clusterPairs: 20,
    groupSizes: [10, 100],
    authClients: 4,
    idleClients: 200,
    scaling: [10, 100],
  },
  full: {
    timing: { warmupMs: 1_000, measureMs: 4_000, drainMs: 5_000 },
    pairs: 200,
    clusterPairs: 200,
    groupSizes: [10, 100],
    authClients: 8,
    idleClients: 10_000,
    scaling: [10, 100, 1_000, 10_000],
  },
};

/** Users the single-node scenarios need in the seeded SQLite file. */
export function usersNeeded(profile: Profile): number {
  return Math.max(
    2 * profile.pairs,
    ...profile.groupSizes,
    profile.idleClients,
    ...profile.scaling,
  );
}

export interface Context {
  generator: Generator;
  profile: Profile;
  /** The seeded SQLite file; every chat server starts on a fresh copy of it. */
  seedFile: string;
  seeded: Seeded;
  /** Where the copies go. */
  dir: string;
}

export interface Comparison {
  name: string;
  unit: string;
  chat: Side;
  baseline: Side;
  notes: string[];
}

export type Outcome = Comparison | { name: string; skipped: string };

export type Scenario = (context: Context) => Promise<Outcome[]>;

let copies = 0;

/** A chat server on a fresh copy of the seeded SQLite file, as one node with no cluster. */
async function sqliteServer(context: Context): Promise<Service> {
  const file = `${context.dir}/chat-${++copies}.db`;
  await Deno.copyFile(context.seedFile, file);
  const args = ["--host", "127.0.0.1", "--port", "0", "--db", `sqlite:${file}`];
  return await startService("chatserver", SERVER, [...args, "--node-id", "bench"]);
}

function single(protocol: Target["protocol"], server: Service): Target {
  return { protocol, port: server.port, servers: [server] };
}

/** Runs `measure` against a fresh chat server, then against a fresh echo relay. */
async function bothSides(
  context: Context,
  measure: (target: Target) => Promise<Side>,
): Promise<{ chat: Side; baseline: Side }> {
  let chat: Side;
  {
    await using server = await sqliteServer(context);
    chat = await measure(single("chat", server));
  }
  await using relay = await startService("echo relay", RELAY, []);
  return { chat, baseline: await measure(single("relay", relay)) };
}

async function pairsComparison(context: Context, name: string, clients: number) {
  const { generator, profile, seeded } = context;
  const users = seeded.userIds.slice(0, clients);
  const sides = await bothSides(context, async (target) => {
    const what = target.protocol === "chat" ? "chat server, SQLite" : "echo relay";
    return (await pairsSide(generator, target, what, users, profile.timing)).side;
  });
  return { name, unit: "msgs/s", ...sides, notes: [] };
}

export const oneToOne: Scenario = async (context) => [
  await pairsComparison(context, "1 one-to-one, 1 node", 2 * context.profile.pairs),
];

export const oneToOneCluster: Scenario = async (context) => {
  const name = "2 one-to-one, 2 nodes (MySQL + Redis) via nginx";
  const missing = !await tcpOpen(MYSQL.host, MYSQL.port)
    ? `MariaDB/MySQL is not reachable at ${MYSQL.host}:${MYSQL.port}`
    : !await tcpOpen(REDIS.host, REDIS.port)
    ? `Redis is not reachable at ${REDIS.host}:${REDIS.port}`
    : !await nginxInstalled()
    ? "nginx with the stream module is not installed"
    : null;
  if (missing) return [{ name, skipped: missing }];

  const { generator, profile } = context;
  await using database = mysqlDatabase();
  const { userIds } = await seedStore(database.url, 2 * profile.clusterPairs, []);
  const cluster = [
    "--host",
    "127.0.0.1",
    "--port",
    "0",
    "--db",
    database.url,
    "--redis",
    `redis://${REDIS.host}:${REDIS.port}`,
    "--redis-prefix",
    `bench:${crypto.randomUUID()}:`,
  ];
  const balancer = async (ports: number[]) => {
    const nginx = await startNginx(ports);
    return track(nginx, () => nginx.stop());
  };

  let chat;
  {
    await using a = await startService("chatserver a", SERVER, [...cluster, "--node-id", "a"]);
    await using b = await startService("chatserver b", SERVER, [...cluster, "--node-id", "b"]);
    await using nginx = await balancer([a.port, b.port]);
    const target: Target = { protocol: "chat", port: nginx.port, servers: [a, b] };
    chat = await pairsSide(generator, target, "2 chat servers", userIds, profile.timing);
  }
  await using relay = await startService("echo relay", RELAY, []);
  await using nginx = await balancer([relay.port]);
  const target: Target = { protocol: "relay", port: nginx.port, servers: [relay] };
  const what = "echo relay behind nginx";
  const baseline = await pairsSide(generator, target, what, userIds, profile.timing);
  return [{
    name,
    unit: "msgs/s",
    chat: chat.side,
    baseline: baseline.side,
    notes: [
      `${chat.crossNodePairs} of ${chat.pairs} pairs span the two nodes (each message crosses ` +
      "nginx, a server, Redis pub/sub, the other server and nginx); CPU and RSS are both servers'",
      "baseline: one echo relay behind the same kind of nginx with a single upstream " +
      "(two relays behind nginx cannot relay to each other's clients)",
    ],
  }];
};

export const groupFanout: Scenario = async (context) => {
  const { generator, profile, seeded } = context;
  const outcomes: Outcome[] = [];
  for (const size of profile.groupSizes) {
    const members = seeded.userIds.slice(0, size);
    const groupId = seeded.groupIds.get(size)!;
    const sides = await bothSides(context, (target) => {
      const what = target.protocol === "chat" ? "chat server, SQLite" : "echo relay, list of ids";
      return fanoutSide(generator, target, what, members, groupId, profile.timing);
    });
    outcomes.push({
      name: `3 group fan-out, ${size} members`,
      unit: "deliveries/s",
      ...sides,
      notes: [`one sender; the next message leaves when all ${size - 1} others have the last one`],
    });
  }
  return outcomes;
};

export const registerAndLogin: Scenario = async (context) => {
  const { generator, profile } = context;
  const { authClients: clients, timing } = profile;
  let register: Side;
  let login: Side;
  {
    await using server = await sqliteServer(context);
    const set = await openAnonymous(generator, single("chat", server), clients);
    const registered = await set.run((worker) =>
      set.counts[worker] === 0 ? null : {
        op: "requests",
        requests: Array(set.counts[worker]).fill({ msgid: 4, password: PASSWORD }),
        followUp: null,
        namePrefix: `registered-${worker}-`,
        timing,
      }
    );
    const logins = await set.run((worker) => {
      const ids = registered.ids[worker].slice(0, set.counts[worker]);
      if (ids.length < set.counts[worker]) throw new Error("Cannot log in: too few registrations");
      return ids.length === 0 ? null : {
        op: "requests",
        requests: ids.map((id) => ({ msgid: 1, id, password: PASSWORD })),
        followUp: { msgid: 3 },
        namePrefix: null,
        timing,
      };
    });
    const closing = await set.close();
    register = requestSide("chat server, SQLite", set, registered, closing);
    login = requestSide("chat server, SQLite", set, logins, closing);
  }
  await using relay = await startService("echo relay", RELAY, []);
  const set = await openAnonymous(generator, single("relay", relay), clients);
  const hashed = await set.run((worker) =>
    set.counts[worker] === 0 ? null : {
      op: "requests",
      requests: Array(set.counts[worker]).fill({ hash: PASSWORD }),
      followUp: null,
      namePrefix: null,
      timing,
    }
  );
  const baseline = requestSide("echo relay, one scrypt hash", set, hashed, await set.close());
  const cost = "password hash cost: scrypt N=16384, r=8, p=1 (the server's default)";
  return [
    { name: "4a register", unit: "registrations/s", chat: register, baseline, notes: [cost] },
    {
      name: "4b login",
      unit: "logins/s",
      chat: login,
      baseline,
      notes: [
        cost,
        "each client logs in as a user it registered in 4a, then logs out (not timed), and repeats",
        "baseline (4a and 4b): the relay answers after one scrypt hash at that cost",
      ],
    },
  ];
};

export const idleClients: Scenario = async (context) => {
  const { generator, profile, seeded } = context;
  const users = seeded.userIds.slice(0, profile.idleClients);
  const sides = await bothSides(context, (target) => {
    const what = target.protocol === "chat" ? "chat server, SQLite" : "echo relay";
    return idleSide(generator, target, what, users);
  });
  return [{
    name: "5 idle logged-in clients",
    unit: "logins/s",
    ...sides,
    notes: [
      "rate and latency: connect + login of the idle clients (seeded users, cheap hash)",
      "RSS per connection: server RSS after the logins minus before, divided by the clients",
    ],
  }];
};

export const scaling: Scenario = async (context) => {
  const outcomes: Outcome[] = [];
  for (const clients of context.profile.scaling) {
    outcomes.push(await pairsComparison(context, `6 scaling, ${clients} clients`, clients));
  }
  return outcomes;
};

export const SCENARIOS: Scenario[] = [
  oneToOne,
  oneToOneCluster,
  groupFanout,
  registerAndLogin,
  idleClients,
  scaling,
];
