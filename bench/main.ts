// `deno task bench`: measures the chat server against a bare relay baseline with a load
// generator running in its own processes, prints a table and optionally writes JSON.
// Everything it starts is stopped on exit, on failure and on Ctrl-C.

import { parseArgs } from "node:util";
import { releaseAll } from "./cleanup.ts";
import { SEED_COST, seedStore, tempDir } from "./fixtures.ts";
import { Generator } from "./generator.ts";
import { describeMachine, jsonDocument, renderOutcome, tableHeader } from "./report.ts";
import { type Outcome, PROFILES, SCENARIOS, usersNeeded } from "./scenarios.ts";

const USAGE = `Usage: deno task bench [--quick] [--json FILE] [--workers N]

  --quick      a small run (under a minute): 1 s phases, few clients, scaling to 100 clients
  --json FILE  also write the results as JSON to FILE
  --workers N  generator worker processes [1]`;

function options() {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      quick: { type: "boolean", default: false },
      json: { type: "string" },
      workers: { type: "string", default: "1" },
      help: { type: "boolean", default: false },
    },
  });
  const workers = Number(values.workers);
  if (!Number.isSafeInteger(workers) || workers < 1) {
    throw new RangeError(`Cannot use --workers ${values.workers}: expected a positive integer`);
  }
  return { ...values, workers };
}

async function run(): Promise<void> {
  const { quick, json, workers, help } = options();
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
  const { warmupMs, measureMs } = profile.timing;
  const machine = await describeMachine();
  const settings = {
    mode,
    generator_workers: workers,
    closed_loop: "window 1: a sender's next message leaves when the previous one has been " +
      "received (chat messages are also acknowledged, checked for errno 0, not waited for)",
    warmup_ms: warmupMs,
    measure_ms: measureMs,
    seeded_users_hash_cost: SEED_COST,
  };
  console.log(
    [
      `chat server bench, ${mode} mode: ${machine.cpus} × ${machine.cpu_model}, ` +
      `${machine.memory_mb} MiB, ${machine.os}, deno ${machine.deno}`,
      `load: ${workers} generator process(es), separate from the servers; closed loop, ` +
      "window 1 (ping-pong per pair; group: next message once all members have the last)",
      `each phase: ${warmupMs} ms warm-up, then ${measureMs} ms measured; latency = send → ` +
      "recipient's push, from a timestamp in the message text, one process clock",
      "baseline: bench/echo_server.ts, a relay on the chat server's own framing and " +
      "connection code with no chat logic; ratios are chat ÷ baseline",
      `users other than scenario 4's are seeded into the store with scrypt N=${SEED_COST.N}, ` +
      `r=${SEED_COST.r}, p=${SEED_COST.p} so 10,000 logins take seconds`,
      "CPU% srv/gen: CPU time of the server process(es) / of the generator processes over " +
      "the phase (100 = one core)",
      "",
      tableHeader(),
    ].join("\n"),
  );

  const outcomes: Outcome[] = [];
  try {
    await using generator = Generator.start(workers);
    await using dir = await tempDir();
    const seedFile = `${dir.path}/seed.db`;
    const seeded = await seedStore(`sqlite:${seedFile}`, usersNeeded(profile), profile.groupSizes);
    const context = { generator, profile, seedFile, seeded, dir: dir.path };
    for (const [index, scenario] of SCENARIOS.entries()) {
      console.error(`bench: scenario ${index + 1} of ${SCENARIOS.length}…`);
      for (const outcome of await scenario(context)) {
        console.log(renderOutcome(outcome));
        outcomes.push(outcome);
      }
    }
  } finally {
    await releaseAll();
  }
  if (json) {
    const document = jsonDocument(machine, settings, outcomes);
    await Deno.writeTextFile(json, JSON.stringify(document, null, 2) + "\n");
  }
}

try {
  await run();
} catch (error) {
  console.error(`bench: ${error instanceof Error ? error.message : String(error)}`);
  Deno.exit(1);
}
