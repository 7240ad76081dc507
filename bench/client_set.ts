// The simulated clients of one phase, spread over the generator workers and connected to one
// target (chat server, cluster or echo relay), and how a phase run on them is observed: merged
// latencies, errors, and the target servers' CPU and memory from /proc.

import type { Command, SlowReaderReport, WorkerReport } from "./commands.ts";
import { PASSWORD } from "./fixtures.ts";
import { type Generator, type Measured, mergePhases } from "./generator.ts";
import { cpuMs, rssKb, type Service } from "./processes.ts";

/** Connections being set up at once over all workers: below the accept backlog of 511. */
const CONNECTS_IN_FLIGHT = 400;

export type Protocol = "chat" | "relay";

/** What the clients connect to: `port` (maybe nginx) and the server processes behind it. */
export interface Target {
  protocol: Protocol;
  port: number;
  servers: Service[];
  /** Chat clients log in with receipts and acknowledge every push (default: protocol v1). */
  receipts?: boolean;
  /** Relay clients send each message as a request, which the relay answers. */
  answered?: boolean;
}

/** CPU use of the servers and of the generator workers during a run, and the servers' RSS. */
export interface Usage {
  serverCpuPct: number;
  generatorCpuPct: number;
  rssKb: number;
}

export interface Run {
  measured: Measured;
  usage: Usage;
  /** Per worker: ids the server assigned (registration). */
  ids: number[][];
  /** Per worker: the node each client logged in to. */
  nodes: string[][];
  /** A slow-reader phase: what became of its reader. */
  reader: SlowReaderReport | null;
}

/** Deals `ids` to `workers` round robin in runs of `chunk` (pairs stay on one worker). */
export function deal(ids: number[], workers: number, chunk = 1): number[][] {
  const dealt: number[][] = Array.from({ length: workers }, () => []);
  for (let index = 0; index < ids.length; index++) {
    dealt[Math.floor(index / chunk) % workers].push(ids[index]);
  }
  return dealt;
}

export class ClientSet {
  readonly target: Target;
  /** Per worker: the user id of each client (empty when not logged in). */
  readonly ids: number[][];
  /** Per worker: how many clients it holds. */
  readonly counts: number[];
  /** The connect + login phase. */
  readonly opening: Run;
  readonly #generator: Generator;

  private constructor(
    generator: Generator,
    target: Target,
    ids: number[][],
    counts: number[],
    opening: Run,
  ) {
    this.#generator = generator;
    this.target = target;
    this.ids = ids;
    this.counts = counts;
    this.opening = opening;
  }

  /**
   * Connects `counts[w]` clients on worker w; with `ids`, client k of worker w logs in as
   * `ids[w][k]` (counts then follow from ids).
   */
  static async open(
    generator: Generator,
    target: Target,
    login: { ids: number[][] } | { counts: number[] },
  ): Promise<ClientSet> {
    const ids = "ids" in login ? login.ids : login.counts.map(() => []);
    const counts = "ids" in login ? login.ids.map((list) => list.length) : login.counts;
    const batch = Math.max(1, Math.floor(CONNECTS_IN_FLIGHT / generator.size));
    const password = target.protocol === "chat" ? PASSWORD : null;
    const commands = counts.map((count, worker): Command | null =>
      count === 0 ? null : {
        op: "open",
        port: target.port,
        count,
        batch,
        login: "ids" in login
          ? { ids: ids[worker], password, receipts: target.receipts === true }
          : null,
      }
    );
    const opening = await observe(generator, target, () => generator.run(commands));
    return new ClientSet(generator, target, ids, counts, opening);
  }

  /** Per worker: the node each client logged in to. */
  get nodes(): string[][] {
    return this.opening.nodes;
  }

  get size(): number {
    return this.counts.reduce((sum, count) => sum + count, 0);
  }

  /** Runs the command `build(w)` on each worker w (none where it returns null). */
  async run(build: (worker: number) => Command | null): Promise<Run> {
    const commands = this.counts.map((_, worker) => build(worker));
    return await observe(this.#generator, this.target, () => this.#generator.run(commands));
  }

  /** Closes every client; returns the errors seen since the last phase. */
  async close(): Promise<Measured> {
    return mergePhases((await this.#generator.broadcast({ op: "close" })).map((r) => r.phase));
  }
}

/** The message frame from one client to user `toid`, in the target's protocol. */
export function directMessage(protocol: Protocol, toid: number): Record<string, unknown> {
  return protocol === "chat" ? { msgid: 6, toid } : { to: toid };
}

/**
 * Pairs the clients of one worker by index. With clients on two nodes, each pair spans both
 * (the sender alternates); whatever cannot be matched across nodes is paired within its node.
 */
export function pairUp(nodes: string[]): Array<[number, number]> {
  const byNode = new Map<string, number[]>();
  nodes.forEach((node, index) => {
    const list = byNode.get(node);
    if (list) list.push(index);
    else byNode.set(node, [index]);
  });
  const [first = [], second = [], ...others] = [...byNode.values()];
  const pairs: Array<[number, number]> = [];
  while (first.length > 0 && second.length > 0) {
    const [a, b] = [first.shift()!, second.shift()!];
    pairs.push(pairs.length % 2 === 0 ? [a, b] : [b, a]);
  }
  const rest = [...first, ...second, ...others.flat()];
  for (let index = 0; index + 1 < rest.length; index += 2) {
    pairs.push([rest[index], rest[index + 1]]);
  }
  return pairs;
}

/** Runs `body` on the workers, sampling the CPU time of servers and workers around it. */
async function observe(
  generator: Generator,
  target: Target,
  body: () => Promise<Array<WorkerReport | null>>,
): Promise<Run> {
  const serverPids = target.servers.map((server) => server.pid);
  const cpuTotal = async (pids: number[]) =>
    (await Promise.all(pids.map(cpuMs))).reduce((sum, ms) => sum + ms, 0);
  const serverBefore = await cpuTotal(serverPids);
  const generatorBefore = await cpuTotal(generator.pids);
  const started = performance.now();
  const reports = await body();
  const wallMs = performance.now() - started;
  const serverCpuMs = await cpuTotal(serverPids) - serverBefore;
  const generatorCpuMs = await cpuTotal(generator.pids) - generatorBefore;
  const rss = (await Promise.all(serverPids.map(rssKb))).reduce((sum, kb) => sum + kb, 0);
  return {
    measured: mergePhases(reports.flatMap((report) => report ? [report.phase] : [])),
    usage: {
      serverCpuPct: 100 * serverCpuMs / wallMs,
      generatorCpuPct: 100 * generatorCpuMs / wallMs,
      rssKb: rss,
    },
    ids: reports.map((report) => report?.ids ?? []),
    nodes: reports.map((report) => report?.nodes ?? []),
    reader: reports.find((report) => report?.reader)?.reader ?? null,
  };
}
