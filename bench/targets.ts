// The performance targets, checked against a full run's outcomes. A target whose
// scenario did not run at its scale (quick mode, skipped scenario) is reported as not checked.

import {
  type Comparison,
  ONE_NODE_TARGET_SHARE,
  type Outcome,
  TWO_NODE_TARGET_SHARE,
} from "./scenarios.ts";

export interface TargetCheck {
  target: string;
  /** null: not checked in this run. */
  met: boolean | null;
  detail: string;
}

const fixed = (value: number, digits = 2) =>
  value.toLocaleString("en-US", { maximumFractionDigits: digits });

function find(outcomes: Outcome[], name: string, clients?: number): Comparison | undefined {
  const outcome = outcomes.find((o) => o.name.startsWith(name));
  if (!outcome || "skipped" in outcome) return undefined;
  return clients === undefined || outcome.chat.clients === clients ? outcome : undefined;
}

/**
 * A rate and a latency bound: the ratio from the closed loop (`comparison`), the p99 from the
 * same pairs paced at the target's rate (`paced`, when the scenario has it): the closed loop's
 * own p99 only restates its rate, since each pair keeps one message in flight.
 */
function ratioTarget(
  target: string,
  comparison: Comparison | undefined,
  minRatio: number,
  maxP99Ms: number,
  paced?: Comparison,
): TargetCheck {
  if (!comparison) return { target, met: null, detail: "not run at this scale" };
  const ratio = comparison.chat.rate / comparison.baseline.rate;
  const latency = paced ?? comparison;
  const p99 = latency.chat.p99Ms;
  const errors = comparison.chat.errors + (paced?.chat.errors ?? 0);
  const where = paced
    ? `p99 ${fixed(p99)} ms paced at ${fixed(paced.extra?.offered_msgs_per_s ?? 0, 0)} msgs/s ` +
      `(made ${fixed(paced.chat.rate, 0)}/s)`
    : `p99 ${fixed(p99)} ms`;
  return {
    target,
    met: ratio >= minRatio && p99 <= maxP99Ms && errors === 0,
    detail: `${fixed(ratio)}× baseline, ${where}, ${errors} errors`,
  };
}

/** The checks; in quick mode every target is reported as not checked. */
export function checkTargets(all: Outcome[], mode: "quick" | "full"): TargetCheck[] {
  const outcomes = mode === "full" ? all : [];
  const fanout = find(outcomes, "3 group fan-out, 100 members");
  const idle = find(outcomes, "5 idle", 15_000);
  const from = find(outcomes, "6 scaling, 100 clients");
  const to = find(outcomes, "6 scaling, 10000 clients");
  const storm = find(outcomes, "7 chat during a login storm", 200);
  const notRun = "not run at this scale";
  return [
    ratioTarget(
      "one-to-one, 200 pairs: ≥ 0.6× baseline, p99 ≤ 10 ms at that rate",
      find(outcomes, "1 one-to-one", 400),
      ONE_NODE_TARGET_SHARE,
      10,
      find(outcomes, "1p one-to-one", 400),
    ),
    ratioTarget(
      "two nodes via nginx: ≥ 0.4× nginx baseline, p99 ≤ 20 ms at that rate",
      find(outcomes, "2 one-to-one", 400),
      TWO_NODE_TARGET_SHARE,
      20,
      find(outcomes, "2p one-to-one", 400),
    ),
    fanout
      ? {
        target: "fan-out to a 100-member group: ≥ 100,000 deliveries/s",
        met: fanout.chat.rate >= 100_000,
        detail: `${fixed(fanout.chat.rate, 0)} deliveries/s`,
      }
      : {
        target: "fan-out to a 100-member group: ≥ 100,000 deliveries/s",
        met: null,
        detail: notRun,
      },
    idle
      ? {
        target: "15,000 idle clients, chat flowing: ≤ 25 KB RSS per connection",
        met: (idle.chat.rssKbPerConn ?? Infinity) * 1024 <= 25_000 && idle.chat.errors === 0,
        detail: `${fixed(idle.chat.rssKbPerConn ?? NaN, 1)} KiB per connection ` +
          `(${fixed((idle.chat.rssKbPerConn ?? NaN) * 1.024, 1)} kB), ${idle.chat.errors} errors`,
      }
      : {
        target: "15,000 idle clients, chat flowing: ≤ 25 KB RSS per connection",
        met: null,
        detail: notRun,
      },
    from && to
      ? {
        target: "scaling: throughput at 10,000 clients > half of that at 100",
        met: to.chat.rate > from.chat.rate / 2,
        detail: `${fixed(from.chat.rate, 0)} → ${fixed(to.chat.rate, 0)} msgs/s (${
          fixed(to.chat.rate / from.chat.rate)
        }×)`,
      }
      : {
        target: "scaling: throughput at 10,000 clients > half of that at 100",
        met: null,
        detail: notRun,
      },
    storm
      ? {
        target: "logins never stall chat: storm p99 ≤ 2× quiet p99",
        met: storm.chat.p99Ms <= 2 * storm.baseline.p99Ms &&
          storm.chat.errors + storm.baseline.errors === 0,
        detail: `100 pairs, p99 ${fixed(storm.baseline.p99Ms)} ms quiet → ` +
          `${fixed(storm.chat.p99Ms)} ms during ${fixed(storm.extra?.logins_per_s ?? NaN, 1)} ` +
          `logins/s (${fixed(storm.chat.p99Ms / storm.baseline.p99Ms)}×), ` +
          `${storm.chat.errors + storm.baseline.errors} errors`,
      }
      : {
        target: "logins never stall chat: storm p99 ≤ 2× quiet p99",
        met: null,
        detail: notRun,
      },
  ];
}

export function renderTargets(checks: TargetCheck[]): string {
  const mark = (met: boolean | null) => met === null ? "n/a " : met ? "MET " : "MISS";
  return [
    "targets on this machine:",
    ...checks.map((c) => `  ${mark(c.met)} ${c.target}: ${c.detail}`),
  ]
    .join("\n");
}
