// bench --repeat: each row of a scenario run several times is its median run by ratio, and
// each target's figure is taken within each run, then the median of the runs.

import assert from "node:assert/strict";
import { medianOutcomes } from "../bench/repeat.ts";
import { checkTargets, medianTargets } from "../bench/targets.ts";
import type { Comparison, Outcome } from "../bench/scenarios.ts";
import type { Side } from "../bench/sides.ts";

function side(rate: number): Side {
  return {
    what: "x",
    clients: 2,
    rate,
    p50Ms: 1,
    p99Ms: 2,
    maxMs: 3,
    errors: 0,
    problems: [],
    serverCpuPct: 50,
    generatorCpuPct: 50,
    rssKb: 1000,
  };
}

function comparison(name: string, chatRate: number, baselineRate = 100): Comparison {
  return { name, unit: "msgs/s", chat: side(chatRate), baseline: side(baselineRate), notes: [] };
}

const rate = (outcome: Outcome) => "skipped" in outcome ? null : outcome.chat.rate;

Deno.test("bench repeat: one run is shown as it is", () => {
  const run = [comparison("1", 40)];
  assert.deepEqual(medianOutcomes([run]), run);
});

Deno.test("bench repeat: each row is its own median run by ratio, with every run's ratio", () => {
  const runs = [
    [comparison("1", 30), comparison("1a", 70, 200)],
    [comparison("1", 50), comparison("1a", 60, 100)],
    [comparison("1", 40), comparison("1a", 20, 100)],
  ];
  const [one, floor] = medianOutcomes(runs) as Comparison[];
  assert.equal(rate(one), 40);
  assert.deepEqual(one.runRatios, [0.3, 0.5, 0.4]);
  assert.equal(
    one.notes.at(-1),
    "median of 3 runs by ratio; the runs in order: 0.30× (30/s), 0.50× (50/s), 0.40× (40/s)",
  );
  // By ratio, not by rate: 70/200 = 0.35 is the middle of 0.35, 0.6 and 0.2.
  assert.equal(rate(floor), 70);
});

Deno.test("bench repeat: an even count takes the lower middle; a skip in any run is kept", () => {
  const runs: Outcome[][] = [
    [comparison("1", 10), comparison("2", 10)],
    [comparison("1", 40), { name: "2", skipped: "no MariaDB" }],
    [comparison("1", 30), comparison("2", 20)],
    [comparison("1", 20), comparison("2", 30)],
  ];
  const [one, two] = medianOutcomes(runs);
  assert.equal(rate(one), 20);
  assert.deepEqual(two, { name: "2", skipped: "no MariaDB" });
});

Deno.test("bench repeat: a target's figure compares rows of the same run, then takes the median", () => {
  // Row 1 ÷ row 1a per run: 0.5, 0.9, 0.5, median 0.5; the median rows (70, 100) would say 0.7.
  const runs: Outcome[][] = [
    [comparison("1 one-to-one", 50), comparison("1a one-to-one", 100)],
    [comparison("1 one-to-one", 90), comparison("1a one-to-one", 100)],
    [comparison("1 one-to-one", 70), comparison("1a one-to-one", 140)],
  ];
  const targets = medianTargets(runs.map((run) => checkTargets(run, "full")));
  const oneNode = targets.find((target) => target.key === "one_node_vs_floor")!;
  assert.equal(oneNode.value, 0.5);
  assert.equal(oneNode.met, false);
  assert.match(oneNode.detail, /median of runs 0\.5, 0\.9, 0\.5/);
  const notRun = targets.find((target) => target.key === "two_nodes_vs_floor")!;
  assert.equal(notRun.value, null);
  assert.equal(notRun.met, null);
});
