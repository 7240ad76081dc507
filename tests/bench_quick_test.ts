// `deno task bench --quick` end to end: it runs, prints its table, and writes a JSON document
// with figures for every scenario and their ratios to the baseline. It checks that numbers came
// out, not how fast they are. The cluster scenario needs MariaDB, Redis and nginx: without them
// it is skipped loudly (and CI=true fails).

import assert from "node:assert/strict";
import { nginxInstalled } from "./support/nginx.ts";
import { serviceAvailable, tcpOpen } from "./support/services.ts";

const ROOT = new URL("..", import.meta.url).pathname;

const clusterReady = await serviceAvailable("MariaDB", () => tcpOpen("127.0.0.1", 3306)) &&
  await serviceAvailable("Redis", () => tcpOpen("127.0.0.1", 6379)) &&
  await serviceAvailable("nginx with the stream module", nginxInstalled);

interface ScenarioJson {
  name: string;
  clients: number;
  msgs_per_s: number;
  p50_ms: number;
  p99_ms: number;
  errors: number;
  baseline_msgs_per_s: number;
  ratio: number;
  rss_kb_per_conn?: number;
  /** Scenario 7 (chat during a login storm): the quiet phase and the storm itself. */
  quiet_p99_ms?: number;
  quiet_msgs_per_s?: number;
  p99_ratio?: number;
  loggers?: number;
  logins_per_s?: number;
  login_p99_ms?: number;
  chat_server_ratio?: number;
  /** Rows 1p, 1q, 2p and 2q: the rate the paced pairs offered, chat and baseline alike. */
  offered_msgs_per_s?: number;
  /** Scenario 8 (slow reader): server RSS held at the phase's peak, the queue cap, cut-off. */
  rss_held_kb?: number;
  rss_growth_kb_never_reading?: number;
  rss_growth_kb_keeping_up?: number;
  queue_cap_kb?: number;
  reader_cut_off?: number;
  baseline: { errors: number; p99_ms: number };
  problems: string[];
}

interface TargetJson {
  key: string;
  value: number | null;
  met: boolean | null;
}

interface BenchRun {
  code: number;
  stdout: string;
  stderr: string;
  scenarios: ScenarioJson[];
  floorRatios: Record<string, number | null>;
  targets: TargetJson[];
}

let running: Promise<BenchRun> | undefined;

/** Runs the quick bench once for every test of this file. */
function quickBench(): Promise<BenchRun> {
  return running ??= (async () => {
    const dir = await Deno.makeTempDir({ prefix: "chat-bench-test-" });
    const json = `${dir}/bench.json`;
    const only = clusterReady ? [] : ["--only", "1,3,4,5,6,7,8"];
    try {
      const output = await new Deno.Command(Deno.execPath(), {
        args: ["task", "bench", "--quick", "--json", json, ...only],
        cwd: ROOT,
        env: { NO_COLOR: "1" },
        stdin: "null",
      }).output();
      const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
      const document = await Deno.readTextFile(json).then(JSON.parse).catch(() => null);
      return {
        code: output.code,
        stdout: decode(output.stdout),
        stderr: decode(output.stderr),
        scenarios: document?.scenarios ?? [],
        floorRatios: document?.floor_ratios ?? {},
        targets: document?.targets ?? [],
      };
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  })();
}

function scenario(run: BenchRun, prefix: string): ScenarioJson {
  const found = run.scenarios.find((s) => s.name.startsWith(prefix));
  assert.ok(found, `no scenario "${prefix}…" in the JSON; stderr:\n${run.stderr}`);
  return found;
}

function assertFigures(figures: ScenarioJson): void {
  const where = `${figures.name}: ${JSON.stringify(figures)}`;
  assert.ok(Number.isInteger(figures.clients) && figures.clients > 0, where);
  for (const key of ["msgs_per_s", "baseline_msgs_per_s", "ratio"] as const) {
    assert.ok(Number.isFinite(figures[key]) && figures[key] > 0, `${key} of ${where}`);
  }
  for (const key of ["p50_ms", "p99_ms"] as const) {
    assert.ok(Number.isFinite(figures[key]) && figures[key] >= 0, `${key} of ${where}`);
  }
  assert.ok(figures.p99_ms >= figures.p50_ms, where);
  assert.equal(figures.errors, 0, `errors in ${where}`);
}

/** A floor row: the answering relay's figures, and the chat server's ratio to it. */
function assertFloor(floor: ScenarioJson): void {
  const where = JSON.stringify(floor);
  assert.ok(Number.isFinite(floor.chat_server_ratio) && floor.chat_server_ratio! > 0, where);
  assert.equal(floor.baseline.errors, 0, where);
}

Deno.test("bench --quick: one node scenarios report figures and baseline ratios", async () => {
  const run = await quickBench();
  assert.equal(run.code, 0, `bench failed:\n${run.stderr}`);
  assert.match(run.stdout, /chat ÷ baseline/);
  assert.match(run.stdout, /targets on this machine \(quick mode: figures shown, not judged\):/);
  const prefixes = [
    "1 one-to-one",
    "1a one-to-one",
    "1p one-to-one",
    "1q one-to-one",
    "1r one-to-one",
    "3 group fan-out, 10 members",
    "3 group fan-out, 100 members",
    "4a register",
    "4b login",
    "5 idle",
    "6 scaling, 10 clients",
    "6 scaling, 100 clients",
    "7 chat during a login storm",
  ];
  for (const prefix of prefixes) assertFigures(scenario(run, prefix));
  assertFloor(scenario(run, "1a one-to-one"));
  const closed = scenario(run, "1 one-to-one");
  const paced = scenario(run, "1p one-to-one");
  assert.ok(
    Math.abs(paced.offered_msgs_per_s! - 0.6 * closed.baseline_msgs_per_s) <= 1,
    `paced at 0.6× the closed loop's baseline: ${JSON.stringify(paced)}`,
  );
  const carried = scenario(run, "1q one-to-one");
  assert.ok(
    Math.abs(carried.offered_msgs_per_s! - 0.5 * closed.msgs_per_s) <= 1,
    `paced at 0.5× the closed loop's chat rate: ${JSON.stringify(carried)}`,
  );
  const idle = scenario(run, "5 idle");
  assert.ok(
    Number.isFinite(idle.rss_kb_per_conn) && idle.rss_kb_per_conn! > 0,
    `rss_kb_per_conn: ${JSON.stringify(idle)}`,
  );
});

Deno.test("bench --quick: chat during a login storm reports both p99s and the logins/s", async () => {
  const run = await quickBench();
  assert.equal(run.code, 0, `bench failed:\n${run.stderr}`);
  assert.match(run.stdout, /logins never stall chat: storm p99 ÷ quiet p99: [\d.]+×/);
  const storm = scenario(run, "7 chat during a login storm");
  const where = JSON.stringify(storm);
  for (const key of ["quiet_p99_ms", "quiet_msgs_per_s", "p99_ratio", "logins_per_s"] as const) {
    assert.ok(Number.isFinite(storm[key]) && storm[key]! > 0, `${key}: ${where}`);
  }
  assert.ok(Number.isInteger(storm.loggers) && storm.loggers! > 0, `loggers: ${where}`);
  assert.ok(Number.isFinite(storm.login_p99_ms), `login_p99_ms: ${where}`);
  // The baseline of this scenario is the quiet phase; ratios are storm ÷ quiet.
  assert.equal(storm.quiet_p99_ms, storm.baseline.p99_ms, where);
  assert.ok(Math.abs(storm.p99_ratio! - storm.p99_ms / storm.quiet_p99_ms!) < 0.01, where);
  assert.equal(storm.baseline.errors, 0, `errors in the quiet phase: ${where}`);
});

/** The figure `key` of the JSON's floor_ratios, which must be a positive number. */
function floorRatio(run: BenchRun, key: string): number {
  const value = run.floorRatios[key];
  assert.ok(typeof value === "number" && value > 0, `${key}: ${JSON.stringify(run.floorRatios)}`);
  return value;
}

Deno.test("bench --quick: each target's figure is its rows' ratio, shown and not judged", async () => {
  const run = await quickBench();
  assert.equal(run.code, 0, `bench failed:\n${run.stderr}`);
  const close = (actual: number, expected: number, what: string) =>
    assert.ok(Math.abs(actual - expected) <= 0.002 * Math.max(1, expected), what);
  const one = scenario(run, "1 one-to-one");
  const floor = scenario(run, "1a one-to-one");
  const receipts = scenario(run, "1r one-to-one");
  const fanout = scenario(run, "3 group fan-out, 100 members");
  close(floorRatio(run, "one_node_vs_floor"), one.msgs_per_s / floor.msgs_per_s, "row 1 ÷ 1a");
  close(floorRatio(run, "receipts_vs_v1"), receipts.msgs_per_s / one.msgs_per_s, "row 1r ÷ 1");
  close(floorRatio(run, "fanout_100_vs_relay"), fanout.ratio, "fan-out ÷ relay");
  close(floorRatio(run, "p99_1q_ms"), scenario(run, "1q one-to-one").p99_ms, "row 1q p99");
  const slow = scenario(run, "8 slow reader");
  close(floorRatio(run, "slow_reader_ack_p99_ms"), slow.p99_ms, "slow reader ACK p99");
  // Held for the reader: a difference of two RSS growths, which a quick run leaves small and
  // of either sign.
  const held = run.floorRatios.slow_reader_rss_held_vs_cap;
  assert.ok(typeof held === "number" && Number.isFinite(held), JSON.stringify(run.floorRatios));
  close(held, slow.rss_held_kb! / slow.queue_cap_kb!, "slow reader RSS held ÷ cap");
  // Quick mode runs 100 clients at most: the 10,000-client figure has no rows.
  assert.equal(run.floorRatios.scaling_10000_vs_100, null);
  assert.ok(run.targets.length > 0 && run.targets.every((target) => target.met === null));
  assert.match(run.stdout, /one node, row 1 ÷ row 1a: [\d.]+× \(target ≥ 0\.8×\)/);
});

Deno.test("bench --quick: the slow reader row reports the senders' ACKs both ways", async () => {
  const run = await quickBench();
  assert.equal(run.code, 0, `bench failed:\n${run.stderr}`);
  const slow = scenario(run, "8 slow reader");
  assertFigures(slow);
  const where = JSON.stringify(slow);
  assert.equal(slow.clients, 8, where);
  assert.equal(slow.baseline.errors, 0, where);
  assert.ok(Number.isFinite(slow.baseline.p99_ms) && slow.baseline.p99_ms > 0, where);
  assert.equal(slow.queue_cap_kb, 8 * 1024, where);
  assert.ok(Number.isInteger(slow.rss_held_kb), where);
  assert.ok(Number.isInteger(slow.rss_growth_kb_keeping_up), where);
  assert.equal(
    slow.rss_held_kb,
    slow.rss_growth_kb_never_reading! - slow.rss_growth_kb_keeping_up!,
    where,
  );
  assert.ok(slow.reader_cut_off === 0 || slow.reader_cut_off === 1, where);
  assert.match(run.stdout, /never reads ÷ keeps up/);
});

Deno.test({
  name: "bench --quick: the two-node cluster scenario through nginx reports figures",
  ignore: !clusterReady,
  async fn() {
    const run = await quickBench();
    assert.equal(run.code, 0, `bench failed:\n${run.stderr}`);
    assertFigures(scenario(run, "2 one-to-one, 2 nodes"));
    assertFigures(scenario(run, "2a one-to-one, 2 nodes"));
    assertFloor(scenario(run, "2a one-to-one, 2 nodes"));
    const paced = scenario(run, "2p one-to-one, 2 nodes");
    assertFigures(paced);
    const closed = scenario(run, "2 one-to-one, 2 nodes");
    assert.ok(
      Math.abs(paced.offered_msgs_per_s! - 0.4 * closed.baseline_msgs_per_s) <= 1,
      `paced at 0.4× the closed loop's baseline: ${JSON.stringify(paced)}`,
    );
    const carried = scenario(run, "2q one-to-one, 2 nodes");
    assertFigures(carried);
    assert.ok(
      Math.abs(carried.offered_msgs_per_s! - 0.5 * closed.msgs_per_s) <= 1,
      `paced at 0.5× the closed loop's chat rate: ${JSON.stringify(carried)}`,
    );
    const floor = scenario(run, "2a one-to-one, 2 nodes");
    const ratio = floorRatio(run, "two_nodes_vs_floor");
    assert.ok(Math.abs(ratio - closed.msgs_per_s / floor.msgs_per_s) <= 0.002, "row 2 ÷ 2a");
    assert.ok(Math.abs(floorRatio(run, "p99_2q_ms") - carried.p99_ms) <= 0.01, "row 2q p99");
  },
});
