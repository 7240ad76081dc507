// Fuzzing the real server process: two rounds of tens of thousands of random and mutated frames
// over 50 connections at once, while two well-behaved clients keep chatting. Every one of their
// messages must arrive, in order; the server must stay up, answer a fresh login, log no
// internal failure, and keep its memory bounded. The seed is printed; FUZZ_SEED replays it.

import assert from "node:assert/strict";
import { DEFAULT_MAX_FRAME, type Frame } from "../lib/protocol.ts";
import { ChatLink } from "./support/chat_link.ts";
import { emptyStats, fuzzConnection, type FuzzStats } from "./support/fuzz_client.ts";
import type { FuzzTargets } from "./support/fuzz_frames.ts";
import { Prng } from "./support/prng.ts";
import { startServer } from "./support/server_process.ts";
import { sleep, within } from "./support/storm.ts";

const ROUNDS = 3;
const CONNECTIONS = 50;
const CHUNKS_PER_CONNECTION = 200;
/**
 * Resident memory the server may reach, MiB. It settles near 250–290 MiB: the V8 heap after
 * parsing megabytes of hostile JSON, and glibc arenas that each keep the 16 MiB of a password
 * hash (lib/password.ts runs at most 4 at once; without that bound RSS passes 600 MiB).
 */
const RSS_LIMIT_MB = 400;
/** Growth allowed from the second round to the third, once the first has warmed up. */
const RSS_GROWTH_LIMIT_MB = 48;

/** Resident memory of a process (`VmRSS`, or another field of its status), in MiB. */
async function memoryMb(pid: number, field = "VmRSS"): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const kb = Number(status.match(new RegExp(`^${field}:\\s+(\\d+) kB`, "m"))?.[1]);
  assert.ok(Number.isFinite(kb), `no ${field} for ${pid}`);
  return Math.round(kb / 1024);
}

/** Two users chatting to each other one message at a time until `stop` turns true. */
class Conversation {
  readonly sent = new Map<number, string[]>();
  readonly received = new Map<number, string[]>();
  readonly failures: Frame[] = [];
  #stop = false;

  constructor(readonly links: Map<number, ChatLink>) {
    for (const [id, link] of links) {
      this.sent.set(id, []);
      this.received.set(id, []);
      link.onPush = (push) => {
        if (links.has(push.id as number)) this.received.get(id)!.push(String(push.msg));
      };
    }
  }

  async run(): Promise<void> {
    const ids = [...this.links.keys()];
    await Promise.all(ids.map(async (from) => {
      const to = ids.find((id) => id !== from)!;
      for (let n = 0; !this.#stop; n++) {
        const msg = `from ${from} #${n}`;
        const ack = await this.links.get(from)!.request({ msgid: 6, toid: to, msg });
        if (ack.errno === 0) this.sent.get(from)!.push(msg);
        else this.failures.push(ack);
        await sleep(5);
      }
    }));
  }

  stop(): void {
    this.#stop = true;
  }

  /** True once each user has received everything the other sent. */
  complete(): boolean {
    const [a, b] = [...this.links.keys()];
    return this.received.get(a)!.length >= this.sent.get(b)!.length &&
      this.received.get(b)!.length >= this.sent.get(a)!.length;
  }
}

async function register(link: ChatLink, name: string, timeoutMs?: number): Promise<number> {
  const reply = await link.request({ msgid: 4, name, password: "pw" }, timeoutMs);
  assert.equal(reply.errno, 0, JSON.stringify(reply));
  return reply.id as number;
}

async function login(link: ChatLink, id: number, timeoutMs?: number): Promise<void> {
  const reply = await link.request({ msgid: 1, id, password: "pw" }, timeoutMs);
  assert.equal(reply.errno, 0, JSON.stringify(reply));
}

Deno.test("fuzz: random and mutated frames never disturb the server or its good clients", async () => {
  const seed = Prng.seedFrom("FUZZ_SEED");
  console.log(`fuzz seed ${seed} (set FUZZ_SEED=${seed} to replay it)`);
  const prng = new Prng(seed);
  const server = await startServer([
    "--db",
    "sqlite::memory:",
    "--rate-limit",
    "1000000",
    "--log-format",
    "json",
  ]);
  const links: ChatLink[] = [];
  let status: Deno.CommandStatus | undefined;
  try {
    const open = async () => {
      const link = await ChatLink.connect(server.port);
      links.push(link);
      return link;
    };
    const setup = await open();
    const aliceId = await register(setup, "alice");
    const bobId = await register(setup, "bob");
    const fuzzIds: number[] = [];
    for (let i = 0; i < 5; i++) fuzzIds.push(await register(setup, `fz${i}`));
    await login(setup, fuzzIds[0]);
    const group = await setup.request({ msgid: 8, groupname: "fuzzers" });
    await setup.request({ msgid: 3 });
    const targets: FuzzTargets = {
      userIds: [aliceId, bobId, ...fuzzIds],
      groupIds: [group.groupid as number],
      ownIds: fuzzIds,
    };

    const alice = await open();
    const bob = await open();
    await login(alice, aliceId);
    await login(bob, bobId);
    const talk = new Conversation(new Map([[aliceId, alice], [bobId, bob]]));
    const talking = talk.run();
    talking.catch(() => {}); // awaited below; a failure meanwhile must not go unhandled

    const rss = [await memoryMb(server.process.pid)];
    const rounds: FuzzStats[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const stats = emptyStats();
      const workers = Array.from({ length: CONNECTIONS }, () => prng.fork());
      await within(
        120_000,
        `fuzz round ${round + 1}`,
        Promise.all(
          workers.map((worker) =>
            fuzzConnection(
              server.port,
              worker,
              targets,
              DEFAULT_MAX_FRAME,
              CHUNKS_PER_CONNECTION,
              stats,
            )
          ),
        ),
      );
      rounds.push(stats);
      rss.push(await memoryMb(server.process.pid));
    }

    talk.stop();
    await within(30_000, "the conversation to end", talking);
    const deadline = Date.now() + 10_000;
    while (!talk.complete() && Date.now() < deadline) await sleep(20);

    for (const [n, stats] of rounds.entries()) {
      const { byKind, badResponses: _, ...counts } = stats;
      console.log(
        `round ${n + 1}: ${Object.entries(counts).map(([k, v]) => `${k}=${v}`).join(" ")}\n  ` +
          Object.entries(byKind).sort().map(([k, v]) => `${k}=${v}`).join(" "),
      );
    }
    const [a, b] = [talk.sent.get(aliceId)!, talk.sent.get(bobId)!];
    const peak = await memoryMb(server.process.pid, "VmHWM");
    console.log(
      `conversation: alice sent ${a.length}, bob sent ${b.length}; ` +
        `server RSS MiB at start and after each round: ${rss}; peak ${peak}`,
    );

    assert.deepEqual(rounds.flatMap((stats) => stats.badResponses), []);
    assert.deepEqual(talk.failures, [], "a well-behaved request failed");
    assert.ok(a.length > 0 && b.length > 0, "the conversation went on during the fuzzing");
    assert.deepEqual(talk.received.get(bobId), a, "bob got all of alice's messages, in order");
    assert.deepEqual(talk.received.get(aliceId), b, "alice got all of bob's messages, in order");

    // Hashing requests that fuzz connections left behind may still be queued: wait for them.
    const fresh = await open();
    const freshId = await register(fresh, "after-the-fuzz", 30_000);
    await login(fresh, freshId, 30_000);
    assert.equal((await fresh.request({ msgid: 15 })).errno, 0);

    assert.ok(peak < RSS_LIMIT_MB, `RSS stayed below ${RSS_LIMIT_MB} MiB: peak ${peak}`);
    assert.ok(rss[3] - rss[2] < RSS_GROWTH_LIMIT_MB, `RSS kept growing: ${rss}`);

    const internalFailures = server.stderr().split("\n")
      .filter((line) => line.includes('"level":"error"'));
    assert.deepEqual(internalFailures.slice(0, 5), [], "the server logged internal failures");
  } finally {
    for (const link of links) link.close();
    status = await server.stop("SIGTERM");
  }
  assert.equal(status.code, 0, `unclean shutdown: ${server.stderr().slice(-2000)}`);
});
