// One side of a comparison: a kind of load (ping-pong pairs, fan-out, request loops, idle
// clients) driven against one target, chat server or echo relay alike, reduced to the figures
// the report prints. The scenarios run each one twice: chat, then baseline.

import type { Timing } from "./commands.ts";
import { ClientSet, deal, directMessage, pairUp, type Run, type Target } from "./client_set.ts";
import { PASSWORD } from "./fixtures.ts";
import type { Generator, Measured } from "./generator.ts";
import { rssKb } from "./processes.ts";

const SETTLE_MS = 1_000;

/** The figures of one side. Rates are per second; latencies in milliseconds. */
export interface Side {
  /** What was measured, e.g. "chat server, SQLite" or "echo relay behind nginx". */
  what: string;
  clients: number;
  rate: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  errors: number;
  problems: string[];
  serverCpuPct: number;
  generatorCpuPct: number;
  rssKb: number;
  rssKbPerConn?: number;
}

function toSide(what: string, clients: number, run: Run, others: Measured[]): Side {
  const { measured, usage } = run;
  const all = [measured, ...others];
  return {
    what,
    clients,
    rate: measured.windowMs > 0 ? measured.completed * 1000 / measured.windowMs : 0,
    p50Ms: measured.histogram.quantile(0.5),
    p99Ms: measured.histogram.quantile(0.99),
    maxMs: measured.histogram.maxMs,
    errors: all.reduce((sum, m) => sum + m.errors, 0),
    problems: all.flatMap((m) => m.problems),
    ...usage,
  };
}

/** Ping-pong between pairs of `userIds`; also returns how many pairs spanned two nodes. */
export async function pairsSide(
  generator: Generator,
  target: Target,
  what: string,
  userIds: number[],
  timing: Timing,
): Promise<{ side: Side; crossNodePairs: number; pairs: number }> {
  const set = await ClientSet.open(generator, target, { ids: deal(userIds, generator.size, 2) });
  const pairs = set.nodes.map(pairUp);
  const run = await set.run((worker) =>
    set.counts[worker] === 0 ? null : {
      op: "pairs",
      pairs: pairs[worker].map(([a, b]) => ({
        a,
        b,
        aToB: directMessage(target.protocol, set.ids[worker][b]),
        bToA: directMessage(target.protocol, set.ids[worker][a]),
      })),
      acked: target.protocol === "chat",
      timing,
    }
  );
  const closing = await set.close();
  return {
    side: toSide(what, set.size, run, [set.opening.measured, closing]),
    crossNodePairs:
      pairs.flatMap((list, worker) =>
        list.filter(([a, b]) => set.nodes[worker][a] !== set.nodes[worker][b])
      ).length,
    pairs: pairs.flat().length,
  };
}

/** The first member sends to the group; every other member must receive before the next. */
export async function fanoutSide(
  generator: Generator,
  target: Target,
  what: string,
  memberIds: number[],
  groupId: number,
  timing: Timing,
): Promise<Side> {
  // One worker holds the whole group, so send and receive times come from one clock.
  const ids = deal(memberIds, generator.size, memberIds.length);
  const set = await ClientSet.open(generator, target, { ids });
  const [, ...others] = memberIds;
  const run = await set.run((worker) =>
    worker !== 0 ? null : {
      op: "fanout",
      sender: 0,
      recipients: others.map((_, index) => index + 1),
      frame: target.protocol === "chat" ? { msgid: 10, groupid: groupId } : { to: others },
      acked: target.protocol === "chat",
      timing,
    }
  );
  const closing = await set.close();
  return toSide(what, set.size, run, [set.opening.measured, closing]);
}

/** Connects `clients` clients that are not logged in, spread over the workers. */
export function openAnonymous(generator: Generator, target: Target, clients: number) {
  const counts = deal(Array.from({ length: clients }, (_, index) => index), generator.size)
    .map((list) => list.length);
  return ClientSet.open(generator, target, { counts });
}

/** Summarises a request loop (register, login, scrypt) run on `set`. */
export function requestSide(what: string, set: ClientSet, run: Run, closing: Measured): Side {
  return toSide(what, set.size, run, [set.opening.measured, closing]);
}

/** Logs in `userIds` and leaves them idle: rate = connect + login; memory per connection. */
export async function idleSide(
  generator: Generator,
  target: Target,
  what: string,
  userIds: number[],
): Promise<Side> {
  const servers = target.servers.map((server) => server.pid);
  const totalRss = async () => (await Promise.all(servers.map(rssKb))).reduce((a, b) => a + b);
  await sleep(SETTLE_MS);
  const before = await totalRss();
  const set = await ClientSet.open(generator, target, { ids: deal(userIds, generator.size) });
  await sleep(SETTLE_MS);
  const after = await totalRss();
  const closing = await set.close();
  return {
    ...toSide(what, set.size, set.opening, [closing]),
    rssKb: after,
    rssKbPerConn: (after - before) / set.size,
  };
}

export function loginWith(id: number): Record<string, unknown> {
  return { msgid: 1, id, password: PASSWORD };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
