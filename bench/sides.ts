// One side of a comparison: a kind of load (ping-pong pairs, fan-out, request loops, idle
// clients with some chat) driven against one target, chat server or echo relay alike, reduced
// to the figures the report prints. The scenarios run each one twice: chat, then baseline.

import type { Command, SlowReaderReport, Timing } from "./commands.ts";
import { ClientSet, deal, directMessage, pairUp, type Run, type Target } from "./client_set.ts";
import { PASSWORD } from "./fixtures.ts";
import type { Generator, Measured } from "./generator.ts";
import { rssKb, type Service, watchPeakRss } from "./processes.ts";

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

/** Where the clients of a side run: `workers` generator workers out of the generator's. */
export interface Load {
  generator: Generator;
  workers: number;
  timing: Timing;
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

/** Deals `ids` over the first `load.workers` workers; the other workers get none. */
function spread(load: Load, ids: number[], chunk = 1): number[][] {
  const used = deal(ids, Math.min(load.workers, load.generator.size), chunk);
  return Array.from({ length: load.generator.size }, (_, worker) => used[worker] ?? []);
}

/**
 * The pairs command for each worker: its first `limit` pairs of logged-in clients, paced so that
 * all of them together offer `offeredRate` messages per second if given.
 */
function pairsRun(
  set: ClientSet,
  timing: Timing,
  limit = Infinity,
  offeredRate: number | null = null,
): Promise<Run> {
  const { protocol } = set.target;
  const pairsOf = (worker: number) => pairUp(set.nodes[worker] ?? []).slice(0, limit);
  const allPairs = set.nodes.reduce((sum, _, worker) => sum + pairsOf(worker).length, 0);
  const intervalMs = offeredRate === null ? null : allPairs * 1000 / offeredRate;
  return set.run((worker) => {
    const pairs = pairsOf(worker);
    return pairs.length === 0 ? null : {
      op: "pairs",
      pairs: pairs.map(([a, b]) => ({
        a,
        b,
        aToB: directMessage(protocol, set.ids[worker][b]),
        bToA: directMessage(protocol, set.ids[worker][a]),
      })),
      acked: protocol === "chat" || set.target.answered === true,
      receipts: set.target.receipts === true,
      intervalMs,
      timing,
    };
  });
}

/**
 * Ping-pong between pairs of `userIds`, as fast as the target answers or, with `offeredRate`,
 * paced to offer that many messages per second; also returns how many pairs spanned two nodes.
 */
export async function pairsSide(
  load: Load,
  target: Target,
  what: string,
  userIds: number[],
  offeredRate: number | null = null,
): Promise<{ side: Side; crossNodePairs: number; pairs: number }> {
  const set = await ClientSet.open(load.generator, target, { ids: spread(load, userIds, 2) });
  const run = await pairsRun(set, load.timing, Infinity, offeredRate);
  const closing = await set.close();
  const pairs = set.nodes.flatMap((nodes) =>
    pairUp(nodes ?? []).map(([a, b]) => [nodes[a], nodes[b]])
  );
  return {
    side: toSide(what, set.size, run, [set.opening.measured, closing]),
    crossNodePairs: pairs.filter(([a, b]) => a !== b).length,
    pairs: pairs.length,
  };
}

/** The first member sends to the group (window `window`); every other member receives. */
export async function fanoutSide(
  load: Load,
  target: Target,
  what: string,
  group: { memberIds: number[]; groupId: number; window: number },
): Promise<Side> {
  // One worker holds the whole group, so send and receive times come from one clock.
  const { memberIds, groupId, window } = group;
  const ids = spread({ ...load, workers: 1 }, memberIds);
  const set = await ClientSet.open(load.generator, target, { ids });
  const [, ...others] = memberIds;
  const run = await set.run((worker) =>
    worker !== 0 ? null : {
      op: "fanout",
      sender: 0,
      recipients: others.map((_, index) => index + 1),
      frame: target.protocol === "chat" ? { msgid: 10, groupid: groupId } : { to: others },
      window,
      acked: target.protocol === "chat",
      timing: load.timing,
    }
  );
  const closing = await set.close();
  return toSide(what, set.size, run, [set.opening.measured, closing]);
}

/** Connects `clients` clients that are not logged in, spread over the load's workers. */
export function openAnonymous(load: Load, target: Target, clients: number) {
  const counts = spread(load, Array.from({ length: clients }, (_, index) => index))
    .map((list) => list.length);
  return ClientSet.open(load.generator, target, { counts });
}

/** Summarises a request loop (register, login, scrypt) run on `set`. */
export function requestSide(what: string, set: ClientSet, run: Run, closing: Measured): Side {
  return toSide(what, set.size, run, [set.opening.measured, closing]);
}

/**
 * Logs in `userIds` and keeps them connected; then `chatPairs` pairs of them chat (ping-pong)
 * for one phase. Rate and latency are that chat's; RSS per connection is the servers' RSS at the
 * end of the chat minus their RSS before the clients came, divided by the clients. Also returns
 * the connect + login rate of the crowd.
 */
export async function idleSide(
  load: Load,
  target: Target,
  what: string,
  userIds: number[],
  chatPairs: number,
): Promise<{ side: Side; loginsPerS: number; afterChatKbPerConn: number }> {
  const pids = target.servers.map((server) => server.pid);
  const totalRss = async () => (await Promise.all(pids.map(rssKb))).reduce((a, b) => a + b);
  await sleep(SETTLE_MS);
  const before = await totalRss();
  const set = await ClientSet.open(load.generator, target, { ids: spread(load, userIds) });
  await sleep(SETTLE_MS);
  // Every client logged in and idle: what the connections themselves cost.
  const idle = await totalRss();
  const perWorker = Math.ceil(chatPairs / Math.min(load.workers, load.generator.size));
  const chat = await pairsRun(set, load.timing, perWorker);
  const closing = await set.close();
  const opening = set.opening.measured;
  return {
    side: {
      ...toSide(what, set.size, chat, [opening, closing]),
      rssKbPerConn: (idle - before) / set.size,
    },
    loginsPerS: opening.windowMs > 0 ? opening.completed * 1000 / opening.windowMs : 0,
    // Adds the chat's garbage that V8 has not collected yet.
    afterChatKbPerConn: (chat.usage.rssKb - before) / set.size,
  };
}

/** Scenario 7's figures: the same pairs chatting quiet, then during a login storm. */
export interface StormSides {
  /** The chat with the loggers connected but idle; its errors include the connect + logins'. */
  quiet: Side;
  /** The chat during the storm; its errors include the storm's and the closing's. */
  storm: Side;
  /** The storm itself: logins/s in the storm's window (the chat's), latency of one login. */
  logins: Side;
}

/**
 * Logs in `chatIds` (pairs stay on one worker) on the first `load.workers` workers, but never on
 * the last one, which holds `loggerIds.length` connections that are not logged in. Then two
 * phases on the same connections: the pairs chat (ping-pong) with the loggers idle (quiet); then
 * they chat again while every logger logs in as its user of `loggerIds` and out, back to back
 * (storm). Both commands of the storm phase start together with the same timing, so the logins
 * have warmed up when the chat's window opens and both windows cover the same time. The loggers
 * have a process of their own, so waiting on slow logins never shares an event loop with the
 * chat's clients.
 */
export async function loginStormSides(
  load: Load,
  target: Target,
  what: string,
  chatIds: number[],
  loggerIds: number[],
): Promise<StormSides> {
  const { generator, timing } = load;
  const loggerWorker = generator.size - 1;
  if (loggerWorker < 1) {
    throw new Error("Cannot run the login storm: it needs a generator process besides the chat's");
  }
  const chatLoad = { ...load, workers: Math.min(load.workers, loggerWorker) };
  const chat = await ClientSet.open(generator, target, { ids: spread(chatLoad, chatIds, 2) });
  const counts = Array.from(
    { length: generator.size },
    (_, worker) => worker === loggerWorker ? loggerIds.length : 0,
  );
  const loggers = await ClientSet.open(generator, target, { counts });
  const quiet = await pairsRun(chat, timing);
  const [storm, logins] = await Promise.all([
    pairsRun(chat, timing),
    loggers.run((worker) =>
      worker !== loggerWorker ? null : {
        op: "requests",
        requests: loggerIds.map((id) => ({ msgid: 1, id, password: PASSWORD })),
        followUp: { msgid: 3 },
        namePrefix: null,
        timing,
      }
    ),
  ]);
  // Closes every client on every worker: the loggers too.
  const closing = await chat.close();
  const openings = [chat.opening.measured, loggers.opening.measured];
  return {
    quiet: toSide("same pairs, no logins", chat.size, quiet, openings),
    storm: toSide(what, chat.size, storm, [logins.measured, closing]),
    logins: toSide("login storm", loggers.size, logins, []),
  };
}

/** How scenario 8 loads its server: senders, message size, each sender's rate. */
export interface SlowReaderLoad {
  senders: number;
  msgChars: number;
  perSenderRate: number;
}

/** One phase of scenario 8: the senders' ACKs, the server RSS it added at its peak, the reader. */
export interface SlowReaderPhase {
  side: Side;
  /** Highest server RSS during the phase minus the RSS just before it, KiB. */
  heldKb: number;
  reader: SlowReaderReport | null;
}

/**
 * Scenario 8 on one worker, once per way of reading, each on a fresh server from `start`:
 * `userIds[0..senders)` send to the last user of `userIds`; a warm-up with that reader reading,
 * then the measured phase with it reading on (keepsUp) or never reading (neverReads: it does
 * not read for the phase, then reads again to see whether the server cut it off). Both servers
 * have had the same traffic when their phase starts, so what the never-reading reader holds is
 * the difference of the two phases' peak RSS growth.
 */
export async function slowReaderSides(
  load: Load,
  start: () => Promise<Service>,
  userIds: number[],
  shape: SlowReaderLoad,
): Promise<{ keepsUp: SlowReaderPhase; neverReads: SlowReaderPhase }> {
  const ids = spread({ ...load, workers: 1 }, userIds);
  const senders = Array.from({ length: shape.senders }, (_, index) => index);
  const phase = async (readerReads: boolean): Promise<SlowReaderPhase> => {
    await using server = await start();
    const target: Target = { protocol: "chat", port: server.port, servers: [server] };
    const set = await ClientSet.open(load.generator, target, { ids });
    const command = (reads: boolean, timing: Timing) => (worker: number): Command | null =>
      worker !== 0 ? null : {
        op: "slow-reader",
        senders,
        toid: userIds[shape.senders],
        reader: shape.senders,
        readerReads: reads,
        msgChars: shape.msgChars,
        intervalMs: 1000 / shape.perSenderRate,
        timing,
      };
    const warmUp = await set.run(command(true, { ...load.timing, measureMs: 0 }));
    const before = await rssKb(server.pid);
    const peak = watchPeakRss([server.pid]);
    // No warm-up in the measured phase: the senders' first messages after the reader stopped
    // are the ones that meet a connection still taking bytes, then one that takes none.
    const run = await set.run(command(readerReads, { ...load.timing, warmupMs: 0 }));
    const heldKb = await peak.stop() - before;
    const closing = await set.close();
    const what = readerReads ? "senders' ACKs, reader keeps up" : "senders' ACKs, never reads";
    const others = [set.opening.measured, warmUp.measured, closing];
    return { side: toSide(what, shape.senders, run, others), heldKb, reader: run.reader };
  };
  return { keepsUp: await phase(true), neverReads: await phase(false) };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
