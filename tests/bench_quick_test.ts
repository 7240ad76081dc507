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
  baseline: { errors: number; p99_ms: number };
  problems: string[];
}

interface BenchRun {
  code: number;
  stdout: string;
  stderr: string;
  scenarios: ScenarioJson[];
}

let running: Promise<BenchRun> | undefined;

/** Runs the quick bench once for every test of this file. */
function quickBench(): Promise<BenchRun> {
  return running ??= (async () => {
    const dir = await Deno.makeTempDir({ prefix: "chat-bench-test-" });
    const json = `${dir}/bench.json`;
    const only = clusterReady ? [] : ["--only", "1,3,4,5,6,7"];
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
  assert.match(run.stdout, /targets on this machine:/);
  const prefixes = [
    "1 one-to-one",
    "1a one-to-one",
    "1p one-to-one",
    "1q one-to-one",
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
  assert.match(run.stdout, /logins never stall chat: storm p99 ≤ 2× quiet p99/);
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
  },
});
