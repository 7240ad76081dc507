// The scenarios of `deno task bench`. Each runs a load against the real chat server (server.ts
// in its own process), then the same load, with the same generator and client count, against
// the echo relay baseline (bench/echo_server.ts), and returns both sides for the report.
// Scenario 7 is the exception: its baseline is the same chat measured quiet, without the
// login storm.

import { DEFAULT_MAX_QUEUED_BYTES } from "../lib/connection.ts";
import { DEFAULT_SCRYPT_COST } from "../lib/password.ts";
import { startNginx } from "../tests/support/nginx.ts";
import { clusterMissing, mysqlDatabase, redisCluster, redisPrefix } from "./backends.ts";
import { track } from "./cleanup.ts";
import type { Target } from "./client_set.ts";
import { addUsers, befriend, PASSWORD, type Seeded, seedStore } from "./fixtures.ts";
import type { Generator } from "./generator.ts";
import { type Service, startService } from "./processes.ts";
import type { Profile } from "./profiles.ts";
import {
  fanoutSide,
  idleSide,
  type Load,
  loginStormSides,
  openAnonymous,
  pairsSide,
  requestSide,
  type Side,
  slowReaderSides,
} from "./sides.ts";

const SERVER = new URL("../server.ts", import.meta.url).pathname;
const RELAY = new URL("./echo_server.ts", import.meta.url).pathname;

/**
 * Flags every chat server gets besides its store: local only, and the per-connection request
 * limit (an anti-abuse default of 200/s) lifted, since a closed loop over few clients sends
 * thousands per second on each.
 */
export const SERVER_FLAGS = ["--host", "127.0.0.1", "--port", "0", "--rate-limit", "1000000"];

export interface Context {
  generator: Generator;
  profile: Profile;
  /** Generator workers the throughput scenarios use (scenario 5 uses profile.idleWorkers). */
  workers: number;
  /** The seeded SQLite file; every chat server starts on a fresh copy of it. */
  seedFile: string;
  seeded: Seeded;
  /** Where the copies go. */
  dir: string;
  /** Extra `deno run` flags for the chat servers (e.g. --cpu-prof). */
  denoFlags: string[];
}

export interface Comparison {
  name: string;
  unit: string;
  chat: Side;
  baseline: Side;
  notes: string[];
  /** Label of the table's ratio row; "chat ÷ baseline" unless given. */
  ratioLabel?: string;
  /** Further figures of the scenario, added as they are to its JSON object. */
  extra?: Record<string, number | null>;
  /** With --repeat: the chat ÷ baseline ratio of every run, in order (this is the median's). */
  runRatios?: number[];
}

export type Outcome = Comparison | { name: string; skipped: string };

export type Scenario = (context: Context) => Promise<Outcome[]>;

const fixed = (value: number, digits: number) =>
  value.toLocaleString("en-US", { maximumFractionDigits: digits });
const roundOrNull = (value: number) =>
  Number.isFinite(value) ? Math.round(value * 1000) / 1000 : null;

let copies = 0;

/**
 * A chat server on a fresh copy of the seeded SQLite file, as one node with no cluster;
 * `prepare` may add to the copy before the server opens it.
 */
async function sqliteServer(
  context: Context,
  prepare?: (url: string) => Promise<void>,
): Promise<Service> {
  const file = `${context.dir}/chat-${++copies}.db`;
  await Deno.copyFile(context.seedFile, file);
  await prepare?.(`sqlite:${file}`);
  const args = [...SERVER_FLAGS, "--db", `sqlite:${file}`, "--node-id", "bench"];
  return await startService("chatserver", SERVER, args, context.denoFlags);
}

function single(protocol: Target["protocol"], server: Service): Target {
  return { protocol, port: server.port, servers: [server] };
}

function loadOf(context: Context, workers = context.workers): Load {
  return { generator: context.generator, workers, timing: context.profile.timing };
}

/** Runs `measure` against a fresh chat server, then against a fresh echo relay. */
async function bothSides<T>(
  context: Context,
  measure: (target: Target) => Promise<T>,
  receipts = false,
): Promise<{ chat: T; baseline: T }> {
  let chat: T;
  {
    await using server = await sqliteServer(context);
    chat = await measure({ ...single("chat", server), receipts });
  }
  await using relay = await startService("echo relay", RELAY, []);
  return { chat, baseline: await measure(single("relay", relay)) };
}

function whatOf(target: Target, baseline = "echo relay"): string {
  return target.protocol === "chat" ? "chat server, SQLite" : baseline;
}

async function pairsComparison(
  context: Context,
  name: string,
  clients: number,
  receipts = false,
) {
  const users = context.seeded.userIds.slice(0, clients);
  const sides = await bothSides(context, async (target) => {
    const what = receipts && target.protocol === "chat" ? "chat server, receipts" : whatOf(target);
    return (await pairsSide(loadOf(context), target, what, users)).side;
  }, receipts);
  const notes = receipts
    ? [
      "clients log in with receipts and acknowledge every push as the project's own client " +
      "does (its code: one RECEIPT per 100 ms with every mid received meanwhile); a push taken " +
      "directly is counted on the user's delivery cursor, with no pending row",
    ]
    : [];
  return { name, unit: "msgs/s", ...sides, notes };
}

/**
 * The protocol's floor beside a one-to-one scenario: the relay answering every message as the
 * chat server must (one response per request), against the plain relay of `plain`.
 */
function floorComparison(label: string, plain: Comparison, answering: Side): Comparison {
  const chatRatio = plain.chat.rate / answering.rate;
  const scenario = plain.name.split(" ")[0];
  return {
    name: `${label} ${plain.name.slice(scenario.length + 1)}: the protocol's floor`,
    unit: "msgs/s",
    chat: answering,
    baseline: plain.baseline,
    ratioLabel: "answering ÷ plain relay",
    notes: [
      "the relay answering every message with an ACK frame, as the protocol requires of any " +
      "server (exactly one response per request): a message costs the server two socket writes " +
      "instead of one, and the clients two reads",
      `scenario ${scenario}'s chat server ÷ this relay, in the same run: ${fixed(chatRatio, 2)}×`,
    ],
    extra: { chat_server_ratio: roundOrNull(chatRatio) },
  };
}

/** The share of the baseline's rate the one-to-one target asks of one node (issue 5). */
export const ONE_NODE_TARGET_SHARE = 0.6;

const PACED_NOTE = "each pair's messages are due pairs ÷ rate apart; one is sent when due or, if " +
  "later, when the previous one arrived, and its latency counts from when it was due: a server " +
  "that cannot keep up shows a growing delay (no coordinated omission)";

/**
 * The share of the chat server's own closed-loop rate that rows 1q and 2q offer: a load it
 * carries, so their latency is what its users see short of saturation.
 */
export const CARRIED_SHARE = 0.5;

/** What a paced row's rate is a share of. */
type PaceBasis = "baseline" | "chat server";

/** `share` of the closed-loop rate of the `basis` side. */
function offeredRate(share: number, basis: PaceBasis, sides: { chat: Side; baseline: Side }) {
  return share * (basis === "baseline" ? sides.baseline.rate : sides.chat.rate);
}

/**
 * Latency at a stated load: the pairs of `plain`, paced to offer `share` of the closed-loop rate
 * of its `basis` side, on a fresh chat server and relay. The closed loop's p99 is not that:
 * there, with every pair keeping one message in flight, mean latency is pairs ÷ rate whatever
 * the server.
 */
async function pacedComparison(
  context: Context,
  name: string,
  plain: Comparison,
  share: number,
  basis: PaceBasis,
): Promise<Comparison> {
  const offered = offeredRate(share, basis, plain);
  const users = context.seeded.userIds.slice(0, plain.chat.clients);
  const sides = await bothSides(context, async (target) => {
    return (await pairsSide(loadOf(context), target, whatOf(target), users, offered)).side;
  });
  return pacedRow(name, share, basis, offered, sides);
}

/** The row of a paced phase: chat and baseline both offered `offered` msgs/s. */
function pacedRow(
  name: string,
  share: number,
  basis: PaceBasis,
  offered: number,
  sides: { chat: Side; baseline: Side },
): Comparison {
  return {
    name,
    unit: "msgs/s",
    ...sides,
    ratioLabel: "chat ÷ baseline, both offered the same",
    notes: [
      `offered ${fixed(offered, 0)} msgs/s: ${share}× the ${basis}'s closed-loop rate above`,
      PACED_NOTE,
    ],
    extra: { offered_msgs_per_s: Math.round(offered) },
  };
}

async function answeringRelay(context: Context, plain: Comparison): Promise<Side> {
  const users = context.seeded.userIds.slice(0, plain.chat.clients);
  await using relay = await startService("echo relay", RELAY, []);
  const target = { ...single("relay", relay), answered: true };
  return (await pairsSide(loadOf(context), target, "echo relay answering", users)).side;
}

export const oneToOne: Scenario = async (context) => {
  const plain = await pairsComparison(context, "1 one-to-one, 1 node", 2 * context.profile.pairs);
  return [
    plain,
    floorComparison("1a", plain, await answeringRelay(context, plain)),
    await pacedComparison(
      context,
      `1p one-to-one, 1 node, paced at ${ONE_NODE_TARGET_SHARE}× the baseline's rate`,
      plain,
      ONE_NODE_TARGET_SHARE,
      "baseline",
    ),
    await pacedComparison(
      context,
      `1q one-to-one, 1 node, paced at ${CARRIED_SHARE}× the chat server's rate`,
      plain,
      CARRIED_SHARE,
      "chat server",
    ),
    await pairsComparison(
      context,
      "1r one-to-one, 1 node, clients with receipts",
      2 * context.profile.pairs,
      true,
    ),
  ];
};

async function balancer(ports: number[]) {
  const nginx = await startNginx(ports);
  return track(nginx, () => nginx.stop());
}

/** The share of the nginx baseline's rate the two-node target asks for (issue 5). */
export const TWO_NODE_TARGET_SHARE = 0.4;

export const oneToOneCluster: Scenario = async (context) => {
  const name = "2 one-to-one, 2 nodes (MySQL + Redis) via nginx";
  const missing = await clusterMissing();
  if (missing) return [{ name, skipped: missing }];

  const load = loadOf(context);
  await using database = await mysqlDatabase();
  await using redis = redisPrefix();
  const { userIds } = await seedStore(database.url, 2 * context.profile.clusterPairs, []);
  /** Two chat servers on the scenario's MySQL database and Redis prefix, behind nginx. */
  const viaCluster = async (offered: number | null = null, redisArgs = ["--redis", redis.url]) => {
    const args = [...SERVER_FLAGS, "--db", database.url, ...redisArgs];
    const cluster = [...args, "--redis-prefix", redis.prefix];
    const flags = context.denoFlags;
    await using a = await startService(
      "chatserver a",
      SERVER,
      [...cluster, "--node-id", "a"],
      flags,
    );
    await using b = await startService(
      "chatserver b",
      SERVER,
      [...cluster, "--node-id", "b"],
      flags,
    );
    await using nginx = await balancer([a.port, b.port]);
    const target: Target = { protocol: "chat", port: nginx.port, servers: [a, b] };
    return await pairsSide(load, target, "2 chat servers", userIds, offered);
  };
  const viaNginx = async (answered: boolean, offered: number | null = null) => {
    await using relay = await startService("echo relay", RELAY, []);
    await using nginx = await balancer([relay.port]);
    const target: Target = { protocol: "relay", port: nginx.port, servers: [relay], answered };
    const what = answered ? "echo relay answering, behind nginx" : "echo relay behind nginx";
    return (await pairsSide(load, target, what, userIds, offered)).side;
  };
  const chat = await viaCluster();
  const baseline = await viaNginx(false);
  const comparison: Comparison = {
    name,
    unit: "msgs/s",
    chat: chat.side,
    baseline,
    notes: [
      `${chat.crossNodePairs} of ${chat.pairs} pairs span the two nodes (each message crosses ` +
      "nginx, a server, Redis pub/sub, the other server and nginx); CPU and RSS are both servers'",
      "fresh MySQL database and Redis key prefix for the scenario, dropped/deleted after it",
      "baseline: one echo relay behind the same kind of nginx with a single upstream " +
      "(two relays behind nginx cannot relay to each other's clients)",
    ],
  };
  const floor = floorComparison("2a", comparison, await viaNginx(true));
  const pacedAt = async (name: string, share: number, basis: PaceBasis) => {
    const offered = offeredRate(share, basis, { chat: chat.side, baseline });
    return pacedRow(name, share, basis, offered, {
      chat: (await viaCluster(offered)).side,
      baseline: await viaNginx(false, offered),
    });
  };
  return [
    comparison,
    floor,
    await pacedAt(
      `2p one-to-one, 2 nodes via nginx, paced at ${TWO_NODE_TARGET_SHARE}× the baseline's rate`,
      TWO_NODE_TARGET_SHARE,
      "baseline",
    ),
    await pacedAt(
      `2q one-to-one, 2 nodes via nginx, paced at ${CARRIED_SHARE}× the chat servers' rate`,
      CARRIED_SHARE,
      "chat server",
    ),
    await onRedisCluster(async (seeds) => ({
      name: REDIS_CLUSTER_ROW,
      unit: "msgs/s",
      chat: (await viaCluster(null, ["--redis-cluster", seeds])).side,
      baseline,
      notes: [
        "row 2 with the two servers on a Redis Cluster of 3 masters + 3 replicas (local " +
        "redis-server processes) instead of one Redis: sharded pub/sub, presence keys spread " +
        "over the shards; baseline: row 2's",
      ],
    })),
  ];
};

const REDIS_CLUSTER_ROW = "2c one-to-one, 2 nodes (MySQL + Redis Cluster) via nginx";

/** A row measured on a private Redis Cluster, or skipped with the reason there is none. */
async function onRedisCluster(row: (seeds: string) => Promise<Comparison>): Promise<Outcome> {
  const cluster = await redisCluster();
  if (typeof cluster === "string") return { name: REDIS_CLUSTER_ROW, skipped: cluster };
  await using running = cluster;
  return await row(running.seeds);
}

export const groupFanout: Scenario = async (context) => {
  const { profile, seeded } = context;
  const outcomes: Outcome[] = [];
  for (const size of profile.groupSizes) {
    const group = {
      memberIds: seeded.userIds.slice(0, size),
      groupId: seeded.groupIds.get(size)!,
      window: profile.fanoutWindow,
    };
    const sides = await bothSides(context, (target) => {
      return fanoutSide(loadOf(context), target, whatOf(target, "echo relay, list of ids"), group);
    });
    outcomes.push({
      name: `3 group fan-out, ${size} members`,
      unit: "deliveries/s",
      ...sides,
      notes: [
        `one sender keeping ${profile.fanoutWindow} messages in flight (a message is done when ` +
        `all ${size - 1} other members have it); latency is per delivery`,
      ],
    });
  }
  return outcomes;
};

/** Password hash cost of scenario 4: the server's default. */
const { N, r, p } = DEFAULT_SCRYPT_COST;
const HASH_COST =
  `scrypt N=${N}, r=${r}, p=${p} (the server's default), via node:crypto's thread pool`;

export const registerAndLogin: Scenario = async (context) => {
  const clients = context.profile.authClients;
  const load = loadOf(context);
  let register: Side;
  let login: Side;
  {
    await using server = await sqliteServer(context);
    const set = await openAnonymous(load, single("chat", server), clients);
    const registered = await set.run((worker) =>
      set.counts[worker] === 0 ? null : {
        op: "requests",
        requests: Array(set.counts[worker]).fill({ msgid: 4, password: PASSWORD }),
        followUp: null,
        namePrefix: `registered-${worker}-`,
        timing: load.timing,
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
        timing: load.timing,
      };
    });
    const closing = await set.close();
    register = requestSide("chat server, SQLite", set, registered, closing);
    login = requestSide("chat server, SQLite", set, logins, closing);
  }
  await using relay = await startService("echo relay", RELAY, []);
  const set = await openAnonymous(load, single("relay", relay), clients);
  const hashed = await set.run((worker) =>
    set.counts[worker] === 0 ? null : {
      op: "requests",
      requests: Array(set.counts[worker]).fill({ hash: PASSWORD }),
      followUp: null,
      namePrefix: null,
      timing: load.timing,
    }
  );
  const baseline = requestSide("echo relay, one scrypt hash", set, hashed, await set.close());
  const cost = `password hash cost: ${HASH_COST}`;
  return [
    { name: "4a register", unit: "registrations/s", chat: register, baseline, notes: [cost] },
    {
      name: "4b login",
      unit: "logins/s",
      chat: login,
      baseline,
      notes: [
        cost,
        `${clients} clients, each logging in back to back as a user it registered in 4a, ` +
        "then logging out (not timed)",
        "baseline (4a and 4b): the relay answers after one scrypt hash at that cost",
      ],
    },
  ];
};

export const idleClients: Scenario = async (context) => {
  const { profile, seeded } = context;
  const users = seeded.userIds.slice(0, profile.idleClients);
  const load = loadOf(context, profile.idleWorkers);
  const sides = await bothSides(context, (target) => {
    return idleSide(load, target, whatOf(target), users, profile.idleChatPairs);
  });
  const logins = (rate: number) => rate.toLocaleString("en-US", { maximumFractionDigits: 0 });
  const kib = (value: number) =>
    `${value.toLocaleString("en-US", { maximumFractionDigits: 1 })} KiB/conn`;
  return [{
    name: `5 idle logged-in clients, ${profile.idleChatPairs} pairs of them chatting`,
    unit: "msgs/s",
    chat: sides.chat.side,
    baseline: sides.baseline.side,
    notes: [
      `${users.length} clients over ${profile.idleWorkers} generator processes; rate and ` +
      `latency: the one-to-one chat of ${profile.idleChatPairs} pairs among them`,
      "KiB/conn: server RSS with every client logged in and idle, minus before they came, " +
      `÷ clients; at the end of the chat: ${kib(sides.chat.afterChatKbPerConn)} (chat), ` +
      `${kib(sides.baseline.afterChatKbPerConn)} (relay), which adds the garbage of the chat ` +
      "that V8 has not collected yet (it lets the heap grow with what is live)",
      `connect + login of the crowd: ${logins(sides.chat.loginsPerS)}/s (chat), ` +
      `${logins(sides.baseline.loginsPerS)}/s (relay)`,
    ],
    extra: { rss_kb_per_conn_after_chat: roundOrNull(sides.chat.afterChatKbPerConn) },
  }];
};

export const scaling: Scenario = async (context) => {
  const outcomes: Outcome[] = [];
  for (const clients of context.profile.scaling) {
    outcomes.push(await pairsComparison(context, `6 scaling, ${clients} clients`, clients));
  }
  return outcomes;
};

/**
 * The "logins never stall chat": pairs chat on one node (SQLite) for a quiet phase, then
 * again while other connections log in and out back to back as users whose hashes have the
 * server's real cost. The baseline is the quiet phase (same server, same connections).
 */
export const loginStorm: Scenario = async (context) => {
  const { profile, seeded } = context;
  const chatIds = seeded.userIds.slice(0, 2 * profile.stormPairs);
  let loggerIds: number[] = [];
  const addLoggers = async (url: string) => {
    loggerIds = await addUsers(url, "storm", profile.stormLoggers, DEFAULT_SCRYPT_COST);
    // Every logger is a friend of every chatter: each login and logout pushes its presence to
    // all of them, the roster's worst case during a storm.
    await befriend(url, loggerIds, chatIds);
  };
  let sides: Awaited<ReturnType<typeof loginStormSides>>;
  {
    await using server = await sqliteServer(context, addLoggers);
    const target = single("chat", server);
    const what = "chat, SQLite, during the login storm";
    sides = await loginStormSides(loadOf(context), target, what, chatIds, loggerIds);
  }
  const { quiet, storm, logins } = sides;
  const p99Ratio = storm.p99Ms / quiet.p99Ms;
  return [{
    name: `7 chat during a login storm, ${profile.stormPairs} pairs`,
    unit: "msgs/s",
    chat: storm,
    baseline: quiet,
    ratioLabel: "storm ÷ quiet",
    notes: [
      `${profile.stormPairs} pairs ping-pong on one server for a phase with the loggers ` +
      "connected but idle (the baseline row), then for another phase during the storm",
      `login storm: ${logins.clients} other connections (a generator process of their own), ` +
      "each logging in as its own user and out again back to back, a friend of every chatter " +
      "(each login and logout is a presence push to all of them); hashes at the real cost, " +
      HASH_COST,
      `storm: ${fixed(logins.rate, 1)} logins/s in the chat's window, login p50 ` +
      `${fixed(logins.p50Ms, 0)} ms, p99 ${fixed(logins.p99Ms, 0)} ms; chat p99 storm ÷ quiet ` +
      `${fixed(p99Ratio, 2)}× (target ≤ 2×)`,
    ],
    extra: {
      quiet_p99_ms: roundOrNull(quiet.p99Ms),
      quiet_msgs_per_s: roundOrNull(quiet.rate),
      p99_ratio: roundOrNull(p99Ratio),
      loggers: logins.clients,
      logins_per_s: roundOrNull(logins.rate),
      login_p50_ms: roundOrNull(logins.p50Ms),
      login_p99_ms: roundOrNull(logins.p99Ms),
    },
  }];
};

/** The server's cap on a connection's outbound queue, KiB: what a reader that never reads may hold. */
export const QUEUE_CAP_KB = DEFAULT_MAX_QUEUED_BYTES / 1024;

/**
 * The issue's slow reader: senders write to one user at a steady rate, first while that user's
 * client reads (the baseline row), then while it never reads. What counts is the senders' ACK
 * latency, which should not depend on how fast the recipient reads, and the server memory the
 * reader holds, which the outbound queue cap should bound.
 */
export const slowReader: Scenario = async (context) => {
  const { profile, seeded } = context;
  const shape = profile.slowReader;
  const userIds = seeded.userIds.slice(0, shape.senders + 1);
  const start = () => sqliteServer(context);
  const sides = await slowReaderSides(loadOf(context, 1), start, userIds, shape);
  const { keepsUp, neverReads } = sides;
  /** What the reader holds: the growth beyond what the same traffic grows with a reader. */
  const heldKb = neverReads.heldKb - keepsUp.heldKb;
  const mib = (kb: number) => fixed(kb / 1024, 1);
  const cutOff = neverReads.reader?.cutOff === true;
  return [{
    name: `8 slow reader, ${shape.senders} senders to one reader that never reads`,
    unit: "ACKs/s",
    chat: neverReads.side,
    baseline: keepsUp.side,
    ratioLabel: "never reads ÷ keeps up",
    notes: [
      `${shape.senders} senders (v1 clients) each send a ${shape.msgChars}-character message ` +
      `every ${fixed(1000 / shape.perSenderRate, 1)} ms to one user, whatever their ACKs do; ` +
      "latency: from when a message was due to its ACK. Each row on a fresh server, after a " +
      "warm-up with the reader reading: in the baseline row it reads on; in the other it stops " +
      "reading for the phase (measured from its first message)",
      `server RSS growth at the peak of the phase: ${mib(neverReads.heldKb)} MiB with the ` +
      `reader never reading, ${mib(keepsUp.heldKb)} MiB with it keeping up (the same ` +
      `traffic's garbage): ${mib(heldKb)} MiB held for the reader; its outbound queue cap is ` +
      `${mib(QUEUE_CAP_KB)} MiB`,
      `the reader ${
        cutOff ? "was cut off by the server (queue over the cap)" : "was still connected"
      } when it read again after the phase, having read ${neverReads.reader?.pushes ?? 0} ` +
      "push(es) in all",
    ],
    extra: {
      rss_held_kb: Math.round(heldKb),
      rss_growth_kb_never_reading: Math.round(neverReads.heldKb),
      rss_growth_kb_keeping_up: Math.round(keepsUp.heldKb),
      queue_cap_kb: QUEUE_CAP_KB,
      reader_cut_off: cutOff ? 1 : 0,
    },
  }];
};

/** By number: `--only 4` runs SCENARIOS[3]. */
export const SCENARIOS: Scenario[] = [
  oneToOne,
  oneToOneCluster,
  groupFanout,
  registerAndLogin,
  idleClients,
  scaling,
  loginStorm,
  slowReader,
];
