// `deno task bench`: measures the chat server against a bare relay baseline with a load
// generator running in its own processes, prints a table and optionally writes JSON.
// Everything it starts is stopped on exit, on failure and on Ctrl-C.

import { parseArgs } from "node:util";
import { releaseAll } from "./cleanup.ts";
import { SEED_COST, seedStore, tempDir } from "./fixtures.ts";
import { Generator } from "./generator.ts";
import { PROFILES, usersNeeded } from "./profiles.ts";
import { medianOutcomes } from "./repeat.ts";
import { describeMachine, jsonDocument, renderOutcome, tableHeader } from "./report.ts";
import { type Outcome, SCENARIOS, SERVER_FLAGS } from "./scenarios.ts";
import { checkTargets, medianTargets, renderTargets } from "./targets.ts";

const USAGE = `Usage: deno task bench [--quick] [--json FILE] [--workers N] [--only LIST]
                         [--repeat N] [--cpu-prof DIR]

  --quick      a small run (well under a minute): 1 s phases, few clients
  --json FILE  also write the results as JSON to FILE
  --workers N  generator processes for scenarios 1-4, 6 and 7's chat [2]; scenario 5 uses its
               own count; scenario 7 adds one more for its loggers
  --only LIST  run only these scenarios, e.g. --only 1,3 (default: 1-8)
  --repeat N   run each scenario N times and show, per row, the run with the median ratio [1]
  --cpu-prof DIR  write a V8 CPU profile of every chat server to DIR (open in Chrome DevTools)`;

function options() {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      quick: { type: "boolean", default: false },
      json: { type: "string" },
      workers: { type: "string", default: "2" },
      only: { type: "string", default: SCENARIOS.map((_, index) => index + 1).join(",") },
      repeat: { type: "string", default: "1" },
      "cpu-prof": { type: "string" },
      help: { type: "boolean", default: false },
    },
  });
  const workers = Number(values.workers);
  if (!Number.isSafeInteger(workers) || workers < 1) {
    throw new RangeError(`Cannot use --workers ${values.workers}: expected a positive integer`);
  }
  const repeat = Number(values.repeat);
  if (!Number.isSafeInteger(repeat) || repeat < 1) {
    throw new RangeError(`Cannot use --repeat ${values.repeat}: expected a positive integer`);
  }
  const only = values.only.split(",").map(Number);
  if (!only.every((n) => Number.isSafeInteger(n) && n >= 1 && n <= SCENARIOS.length)) {
    throw new RangeError(
      `Cannot use --only ${values.only}: expected numbers from 1 to ${SCENARIOS.length}`,
    );
  }
  const profileDir = values["cpu-prof"];
  const denoFlags = profileDir ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] : [];
  return { ...values, workers, repeat, only: new Set(only), denoFlags };
}

function header(
  mode: string,
  workers: number,
  repeat: number,
  machine: Record<string, unknown>,
): string {
  const profile = PROFILES[mode as "quick" | "full"];
  const { warmupMs, measureMs } = profile.timing;
  return [
    `chat server bench, ${mode} mode: ${machine.cpus} × ${machine.cpu_model}, ` +
    `${machine.memory_mb} MiB, ${machine.os}, deno ${machine.deno}, ` +
    `load average at start ${machine.loadavg}`,
    `load: ${workers} generator process(es) (scenario 5: ${profile.idleWorkers}; scenario 7: ` +
    `one more for the logins), separate ` +
    "from the servers; closed loops: a pair sends its next message when the previous one " +
    `arrived; the fan-out sender keeps ${profile.fanoutWindow} messages in flight`,
    `each phase: ${warmupMs} ms warm-up, then ${measureMs} ms measured; latency = send → ` +
    "recipient's push, from a timestamp written into the message text by the sender and read " +
    "on arrival in the same generator process (one clock)",
    "chat clients log in without receipts (protocol v1: the server marks a push delivered once " +
    "written), except in row 1r; every chat message is a request whose ACK must be errno 0 " +
    "(checked, not waited for)",
    `chat servers run with ${SERVER_FLAGS.slice(4).join(" ")} (the per-connection limit is ` +
    "an anti-abuse default of 200 requests/s); everything else is the default",
    "baseline: bench/echo_server.ts, a length-prefixed JSON relay on the chat server's own " +
    "framing and connection code with no chat logic; ratios are chat ÷ baseline",
    `users other than scenario 4's and scenario 7's loggers are seeded into the store with ` +
    `scrypt N=${SEED_COST.N}, r=${SEED_COST.r}, p=${SEED_COST.p} so 15,000 logins take seconds`,
    "scenario 7's baseline is not the relay: it is the same pairs on the same server measured " +
    "quiet, before the login storm; its ratios are storm ÷ quiet",
    "scenario 8's baseline is not the relay either: the same senders writing to a reader that " +
    "keeps up; its ratios are never reads ÷ keeps up",
    "CPU% srv/gen: CPU time of the server process(es) / of the generator processes over " +
    "the phase (100 = one core)",
    ...(repeat > 1
      ? [`each scenario ran ${repeat} times; each row is the run whose ratio is the median`]
      : []),
    "caveat: from ~1,000 clients on, latency tails include the generator's own I/O scheduling " +
    "(a Deno process serves many ready sockets unevenly); the baseline rows carry the same effect",
    "",
    tableHeader(),
  ].join("\n");
}

async function run(): Promise<void> {
  const { quick, json, workers, repeat, only, help, denoFlags } = options();
  if (help) return console.log(USAGE);
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, async () => {
      console.error(`\nbench: ${signal}: stopping everything it started`);
      await releaseAll();
      Deno.exit(130);
    });
  }
  const mode = quick ? "quick" : "full";
  const profile = PROFILES[mode];
  const machine = await describeMachine();
  console.log(header(mode, workers, repeat, machine));

  const outcomes: Outcome[] = [];
  /** With --repeat: each run's outcomes over every scenario, run by run. */
  const runOutcomes: Outcome[][] = Array.from({ length: repeat }, () => []);
  const started = performance.now();
  try {
    const processes = Math.max(
      workers,
      only.has(5) ? profile.idleWorkers : 0,
      // Scenario 7: the chat on `workers` processes, the loggers on one of their own.
      only.has(7) ? workers + 1 : 0,
    );
    await using generator = Generator.start(processes);
    await using dir = await tempDir();
    const seedFile = `${dir.path}/seed.db`;
    const seeded = await seedStore(`sqlite:${seedFile}`, usersNeeded(profile), profile.groupSizes);
    const context = { generator, profile, workers, seedFile, seeded, dir: dir.path, denoFlags };
    for (const [index, scenario] of SCENARIOS.entries()) {
      if (!only.has(index + 1)) continue;
      const runs: Outcome[][] = [];
      for (let run = 1; run <= repeat; run++) {
        const which = repeat > 1 ? `, run ${run} of ${repeat}` : "";
        console.error(`bench: scenario ${index + 1} of ${SCENARIOS.length}${which}…`);
        const outcome = await scenario(context);
        runs.push(outcome);
        runOutcomes[run - 1].push(...outcome);
      }
      for (const outcome of medianOutcomes(runs)) {
        console.log(renderOutcome(outcome));
        outcomes.push(outcome);
      }
    }
  } finally {
    await releaseAll();
  }
  // Each target's figure compares rows of one scenario: with --repeat, within each run, then the
  // median of the runs (the median rows above may come from different runs).
  const targets = repeat === 1
    ? checkTargets(outcomes, mode)
    : medianTargets(runOutcomes.map((run) => checkTargets(run, mode)));
  const seconds = (performance.now() - started) / 1000;
  const loadavg = (await describeMachine()).loadavg;
  const took = `bench took ${seconds.toFixed(0)} s; load average at end ${loadavg}`;
  console.log(`${renderTargets(targets, mode)}\n\n${took}`);
  if (json) {
    const settings = {
      mode,
      generator_workers: workers,
      repeat,
      profile,
      receipts: "v1 clients, except row 1r (receipts)",
      server_flags: SERVER_FLAGS,
      seeded_users_hash_cost: SEED_COST,
      duration_s: Math.round(seconds),
      loadavg_at_end: loadavg,
    };
    const document = jsonDocument(machine, settings, outcomes, targets);
    await Deno.writeTextFile(json, JSON.stringify(document, null, 2) + "\n");
  }
}

try {
  await run();
} catch (error) {
  console.error(`bench: ${error instanceof Error ? error.message : String(error)}`);
  await releaseAll();
  Deno.exit(1);
}
