// Presents bench results: a table on stdout (chat, baseline and chat ÷ baseline for each
// scenario) and the JSON document written with --json.

import type { Comparison, Outcome } from "./scenarios.ts";
import type { Side } from "./sides.ts";
import { floorRatios, type TargetCheck } from "./targets.ts";

const COLUMNS = [
  ["", 40],
  ["clients", 8],
  ["rate/s", 10],
  ["p50 ms", 9],
  ["p99 ms", 9],
  ["max ms", 9],
  ["errors", 7],
  ["RSS MiB", 9],
  ["KiB/conn", 9],
  ["CPU% srv/gen", 14],
] as const;

/** Facts about the machine and the toolchain, for the report header and the JSON. */
export async function describeMachine(): Promise<Record<string, unknown>> {
  const cpuinfo = await Deno.readTextFile("/proc/cpuinfo").catch(() => "");
  const loadavg = await Deno.readTextFile("/proc/loadavg").catch(() => "");
  return {
    cpus: navigator.hardwareConcurrency,
    cpu_model: cpuinfo.match(/^model name\s*:\s*(.+)$/m)?.[1] ?? "unknown",
    memory_mb: Math.round(Deno.systemMemoryInfo().total / 2 ** 20),
    os: `${Deno.build.os} ${Deno.osRelease()} ${Deno.build.arch}`,
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    loadavg: loadavg.split(" ").slice(0, 3).join(" "),
  };
}

function number(value: number | undefined, digits: number): string {
  if (value === undefined) return "";
  if (!Number.isFinite(value)) return "-";
  return value.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

function latency(ms: number): string {
  return number(ms, ms < 10 ? 2 : ms < 100 ? 1 : 0);
}

function row(cells: string[]): string {
  return cells.map((cell, index) => {
    const [, width] = COLUMNS[index];
    return index === 0 ? cell.padEnd(width) : cell.padStart(width);
  }).join("");
}

export function tableHeader(): string {
  return row(COLUMNS.map(([title]) => title));
}

function sideRow(label: string, side: Side): string {
  return row([
    `  ${label}`,
    String(side.clients),
    number(side.rate, side.rate < 100 ? 1 : 0),
    latency(side.p50Ms),
    latency(side.p99Ms),
    latency(side.maxMs),
    String(side.errors),
    number(side.rssKb / 1024, 1),
    number(side.rssKbPerConn, 1),
    `${number(side.serverCpuPct, 0)} / ${number(side.generatorCpuPct, 0)}`,
  ]);
}

function ratio(chat: number | undefined, baseline: number | undefined): number | undefined {
  return chat === undefined || baseline === undefined ? undefined : chat / baseline;
}

function ratioRow(chat: Side, baseline: Side, label = "chat ÷ baseline"): string {
  const cell = (value: number | undefined) => value === undefined ? "" : `${number(value, 2)}×`;
  return row([
    `  ${label}`,
    "",
    cell(ratio(chat.rate, baseline.rate)),
    cell(ratio(chat.p50Ms, baseline.p50Ms)),
    cell(ratio(chat.p99Ms, baseline.p99Ms)),
    cell(ratio(chat.maxMs, baseline.maxMs)),
    "",
    cell(ratio(chat.rssKb, baseline.rssKb)),
    cell(ratio(chat.rssKbPerConn, baseline.rssKbPerConn)),
    "",
  ]);
}

/** The table lines for one scenario, with its notes and any problems seen. */
export function renderOutcome(outcome: Outcome): string {
  if ("skipped" in outcome) return `${outcome.name}\n  SKIPPED: ${outcome.skipped}\n`;
  const { chat, baseline } = outcome;
  const lines = [
    `${outcome.name} (${outcome.unit})`,
    sideRow(chat.what, chat),
    sideRow(`baseline: ${baseline.what}`, baseline),
    ratioRow(chat, baseline, outcome.ratioLabel),
    ...outcome.notes.map((note) => `  note: ${note}`),
    ...[...chat.problems, ...baseline.problems].map((problem) => `  PROBLEM: ${problem}`),
  ];
  return lines.join("\n") + "\n";
}

const round = (value: number) => Number.isFinite(value) ? Math.round(value * 1000) / 1000 : null;

function sideJson(side: Side) {
  return {
    what: side.what,
    clients: side.clients,
    msgs_per_s: round(side.rate),
    p50_ms: round(side.p50Ms),
    p99_ms: round(side.p99Ms),
    max_ms: round(side.maxMs),
    errors: side.errors,
    server_rss_kb: side.rssKb,
    server_cpu_pct: round(side.serverCpuPct),
    generator_cpu_pct: round(side.generatorCpuPct),
    ...(side.rssKbPerConn === undefined ? {} : { rss_kb_per_conn: round(side.rssKbPerConn) }),
    problems: side.problems,
  };
}

function comparisonJson({ name, unit, chat, baseline, notes, extra, runRatios }: Comparison) {
  const { what: _what, ...figures } = sideJson(chat);
  return {
    name,
    unit,
    ...figures,
    baseline_msgs_per_s: round(baseline.rate),
    ratio: round(chat.rate / baseline.rate),
    ratios: {
      p50_ms: round(chat.p50Ms / baseline.p50Ms),
      p99_ms: round(chat.p99Ms / baseline.p99Ms),
      max_ms: round(chat.maxMs / baseline.maxMs),
      server_rss_kb: round(chat.rssKb / baseline.rssKb),
      ...(chat.rssKbPerConn === undefined || baseline.rssKbPerConn === undefined
        ? {}
        : { rss_kb_per_conn: round(chat.rssKbPerConn / baseline.rssKbPerConn) }),
    },
    ...extra,
    ...(runRatios ? { run_ratios: runRatios.map(round) } : {}),
    chat_what: chat.what,
    baseline: sideJson(baseline),
    notes,
  };
}

/** The --json document. */
export function jsonDocument(
  machine: Record<string, unknown>,
  settings: Record<string, unknown>,
  outcomes: Outcome[],
  targets: TargetCheck[],
) {
  return {
    machine,
    settings,
    scenarios: outcomes.flatMap((outcome) => "skipped" in outcome ? [] : [comparisonJson(outcome)]),
    skipped: outcomes.flatMap((outcome) => "skipped" in outcome ? [outcome] : []),
    floor_ratios: floorRatios(targets),
    targets,
  };
}
