// The performance targets, each read from the run's own rows as a ratio to the row it is judged
// against (issue 19's table: the chat server against the protocol's floor, receipts clients
// against v1 ones, 10,000 clients against 100, a reader that never reads against its queue cap),
// plus the two earlier targets that still stand (idle memory, the login storm). Every figure is
// computed whenever its rows ran; whether it meets its target is judged only in a full run.

import { type Comparison, type Outcome, QUEUE_CAP_KB } from "./scenarios.ts";

export interface TargetCheck {
  /** Stable name of the figure in the JSON (`floor_ratios`). */
  key: string;
  target: string;
  /** The figure, in `unit`; null when its rows did not run. */
  value: number | null;
  unit: "×" | "ms" | "KiB";
  /** What the figure must be, e.g. "≥ 0.8". */
  bound: string;
  /** null: not judged in this run (quick mode, or rows missing). */
  met: boolean | null;
  detail: string;
}

const fixed = (value: number, digits = 2) =>
  value.toLocaleString("en-US", { maximumFractionDigits: digits });

function find(outcomes: Outcome[], name: string): Comparison | undefined {
  const outcome = outcomes.find((o) => o.name.startsWith(name));
  return outcome && !("skipped" in outcome) ? outcome : undefined;
}

interface Figure {
  value: number;
  detail: string;
  /** Errors in the rows the figure comes from; a figure with errors does not meet its target. */
  errors: number;
}

interface Rule {
  key: string;
  target: string;
  unit: TargetCheck["unit"];
  /** "min": value ≥ limit; "max": value ≤ limit. */
  kind: "min" | "max";
  limit: number;
  /** The figure from the run's rows, or undefined when they did not run. */
  figure(outcomes: Outcome[]): Figure | undefined;
}

const errorsOf = (...rows: Comparison[]) =>
  rows.reduce((sum, row) => sum + row.chat.errors + row.baseline.errors, 0);

/** Chat rate of row `a` ÷ the rate of `b`'s side `side`. */
function rateRatio(
  a: string,
  b: string,
  side: "chat" | "baseline",
): (outcomes: Outcome[]) => Figure | undefined {
  return (outcomes) => {
    const top = find(outcomes, a);
    const bottom = find(outcomes, b);
    if (!top || !bottom) return undefined;
    return {
      value: top.chat.rate / bottom[side].rate,
      detail: `${fixed(top.chat.rate, 0)} ÷ ${fixed(bottom[side].rate, 0)} ${top.unit}`,
      errors: errorsOf(top, bottom),
    };
  };
}

function p99Of(row: string): (outcomes: Outcome[]) => Figure | undefined {
  return (outcomes) => {
    const paced = find(outcomes, row);
    if (!paced) return undefined;
    const offered = paced.extra?.offered_msgs_per_s ?? NaN;
    return {
      value: paced.chat.p99Ms,
      detail: `p50 ${fixed(paced.chat.p50Ms)} ms, offered ${fixed(offered, 0)} msgs/s, made ` +
        `${fixed(paced.chat.rate, 0)}/s`,
      errors: errorsOf(paced),
    };
  };
}

const SLOW_READER = "8 slow reader";

const RULES: Rule[] = [
  {
    key: "one_node_vs_floor",
    target: "one node, row 1 ÷ row 1a",
    unit: "×",
    kind: "min",
    limit: 0.8,
    figure: rateRatio("1 one-to-one", "1a one-to-one", "chat"),
  },
  {
    key: "two_nodes_vs_floor",
    target: "two nodes via nginx, row 2 ÷ row 2a",
    unit: "×",
    kind: "min",
    limit: 0.7,
    figure: rateRatio("2 one-to-one", "2a one-to-one", "chat"),
  },
  {
    key: "receipts_vs_v1",
    target: "receipts clients, row 1r ÷ row 1",
    unit: "×",
    kind: "min",
    limit: 0.8,
    figure: rateRatio("1r one-to-one", "1 one-to-one", "chat"),
  },
  {
    key: "p99_1q_ms",
    target: "p99 at half the server's own rate, row 1q",
    unit: "ms",
    kind: "max",
    limit: 20,
    figure: p99Of("1q one-to-one"),
  },
  {
    key: "p99_2q_ms",
    target: "p99 at half the servers' own rate, row 2q",
    unit: "ms",
    kind: "max",
    limit: 20,
    figure: p99Of("2q one-to-one"),
  },
  {
    key: "fanout_100_vs_relay",
    target: "fan-out to 100 members ÷ relay",
    unit: "×",
    kind: "min",
    limit: 1.0,
    figure: rateRatio("3 group fan-out, 100 members", "3 group fan-out, 100 members", "baseline"),
  },
  {
    key: "scaling_10000_vs_100",
    target: "throughput at 10,000 clients ÷ at 100",
    unit: "×",
    kind: "min",
    limit: 0.5,
    figure: rateRatio("6 scaling, 10000 clients", "6 scaling, 100 clients", "chat"),
  },
  {
    key: "slow_reader_ack_p99_ms",
    target: "senders' ACK p99 while their recipient never reads",
    unit: "ms",
    kind: "max",
    limit: 50,
    figure: (outcomes) => {
      const row = find(outcomes, SLOW_READER);
      if (!row) return undefined;
      return {
        value: row.chat.p99Ms,
        detail: `p50 ${fixed(row.chat.p50Ms)} ms; reader keeping up: p50 ` +
          `${fixed(row.baseline.p50Ms)} ms, p99 ${fixed(row.baseline.p99Ms)} ms`,
        errors: errorsOf(row),
      };
    },
  },
  {
    key: "slow_reader_rss_held_vs_cap",
    target: "server memory held for one reader that never reads ÷ its queue cap",
    unit: "×",
    kind: "max",
    limit: 2,
    figure: (outcomes) => {
      const row = find(outcomes, SLOW_READER);
      const held = row?.extra?.rss_held_kb;
      if (!row || held === undefined || held === null) return undefined;
      const mib = (kb: number) => `${fixed(kb / 1024, 1)} MiB`;
      return {
        value: held / QUEUE_CAP_KB,
        detail: `${mib(held)} held for the reader, queue cap ${mib(QUEUE_CAP_KB)} (peak RSS ` +
          `growth ${mib(row.extra?.rss_growth_kb_never_reading ?? NaN)} never reading, ` +
          `${mib(row.extra?.rss_growth_kb_keeping_up ?? NaN)} keeping up); reader cut off: ` +
          (row.extra?.reader_cut_off === 1 ? "yes" : "no"),
        errors: errorsOf(row),
      };
    },
  },
  {
    key: "idle_rss_kib_per_conn",
    target: "15,000 idle clients, chat flowing: RSS per connection",
    unit: "KiB",
    kind: "max",
    limit: 25_000 / 1024,
    figure: (outcomes) => {
      const idle = find(outcomes, "5 idle");
      if (!idle || idle.chat.clients !== 15_000) return undefined;
      const kib = idle.chat.rssKbPerConn ?? NaN;
      return { value: kib, detail: `${fixed(kib * 1.024, 1)} kB`, errors: idle.chat.errors };
    },
  },
  {
    key: "login_storm_p99_vs_quiet",
    target: "logins never stall chat: storm p99 ÷ quiet p99",
    unit: "×",
    kind: "max",
    limit: 2,
    figure: (outcomes) => {
      const storm = find(outcomes, "7 chat during a login storm");
      if (!storm) return undefined;
      return {
        value: storm.chat.p99Ms / storm.baseline.p99Ms,
        detail: `p99 ${fixed(storm.baseline.p99Ms)} ms quiet → ${fixed(storm.chat.p99Ms)} ms ` +
          `during ${fixed(storm.extra?.logins_per_s ?? NaN, 1)} logins/s`,
        errors: errorsOf(storm),
      };
    },
  },
];

/** Every target's figure from the rows that ran; judged only in a full run. */
export function checkTargets(outcomes: Outcome[], mode: "quick" | "full"): TargetCheck[] {
  return RULES.map((rule) => {
    const bound = `${rule.kind === "min" ? "≥" : "≤"} ${fixed(rule.limit, 1)}${
      unitText(rule.unit)
    }`;
    const figure = rule.figure(outcomes);
    const base = { key: rule.key, target: rule.target, unit: rule.unit, bound };
    if (!figure || !Number.isFinite(figure.value)) {
      return { ...base, value: null, met: null, detail: "its rows did not run" };
    }
    const within = rule.kind === "min" ? figure.value >= rule.limit : figure.value <= rule.limit;
    const errors = figure.errors === 0 ? "" : `; ${figure.errors} errors`;
    return {
      ...base,
      value: Math.round(figure.value * 1000) / 1000,
      met: mode === "full" ? within && figure.errors === 0 : null,
      detail: figure.detail + errors,
    };
  });
}

/**
 * The targets of several runs of the same scenarios, each figure the median of its runs' (the
 * lower middle of an even count), judged as that run was; the detail lists every run's figure.
 */
export function medianTargets(runs: TargetCheck[][]): TargetCheck[] {
  return runs[0].map((_, index) => {
    const checks = runs.map((run) => run[index]);
    const measured = checks.filter((check) => check.value !== null);
    if (measured.length === 0) return checks[0];
    const sorted = measured.toSorted((a, b) => a.value! - b.value!);
    const median = sorted[Math.floor((sorted.length - 1) / 2)];
    const each = measured.map((check) => fixed(check.value!, check.unit === "×" ? 2 : 1));
    return { ...median, detail: `${median.detail}; median of runs ${each.join(", ")}` };
  });
}

function unitText(unit: TargetCheck["unit"]): string {
  return unit === "×" ? "×" : ` ${unit}`;
}

/** The figures by key, for the JSON. */
export function floorRatios(checks: TargetCheck[]): Record<string, number | null> {
  return Object.fromEntries(checks.map((check) => [check.key, check.value]));
}

export function renderTargets(checks: TargetCheck[], mode: "quick" | "full"): string {
  const mark = (met: boolean | null) => met === null ? "n/a " : met ? "MET " : "MISS";
  const value = (check: TargetCheck) =>
    check.value === null
      ? "-"
      : `${fixed(check.value, check.unit === "×" ? 2 : 1)}${unitText(check.unit)}`;
  return [
    mode === "full"
      ? "targets on this machine (each figure against the row it is judged by):"
      : "targets on this machine (quick mode: figures shown, not judged):",
    ...checks.map((c) =>
      `  ${mark(c.met)} ${c.target}: ${value(c)} (target ${c.bound}); ${c.detail}`
    ),
  ].join("\n");
}
