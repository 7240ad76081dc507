// `--repeat N`: every scenario runs N times and the report shows, for each of its rows, the run
// whose chat ÷ baseline ratio is the median, with every run's ratio in a note. On a shared
// 2-core machine single runs of the same code differ by up to ±30%; a median of 3 or 5 is what
// to compare between two versions of the code.

import type { Comparison, Outcome } from "./scenarios.ts";

const ratioOf = (comparison: Comparison) => comparison.chat.rate / comparison.baseline.rate;

/**
 * `runs` are the outcomes of one scenario run several times, each run's rows in the same order.
 * Returns one outcome per row: the median run's (the lower middle of an even count), or the
 * first skip if any run skipped that row.
 */
export function medianOutcomes(runs: Outcome[][]): Outcome[] {
  if (runs.length === 1) return runs[0];
  return runs[0].map((_, row) => {
    const candidates = runs.map((outcomes) => outcomes[row]);
    const skipped = candidates.find((outcome) => "skipped" in outcome);
    if (skipped) return skipped;
    const comparisons = (candidates as Comparison[]).toSorted((a, b) => ratioOf(a) - ratioOf(b));
    const median = comparisons[Math.floor((comparisons.length - 1) / 2)];
    const each = (candidates as Comparison[]).map((c) =>
      `${ratioOf(c).toFixed(2)}× (${Math.round(c.chat.rate).toLocaleString("en-US")}/s)`
    );
    return {
      ...median,
      notes: [
        ...median.notes,
        `median of ${runs.length} runs by ratio; the runs in order: ${each.join(", ")}`,
      ],
      runRatios: (candidates as Comparison[]).map(ratioOf),
    };
  });
}
