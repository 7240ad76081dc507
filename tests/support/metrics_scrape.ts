// For metrics tests: reads samples out of Prometheus text exposition (what /metrics serves), and
// scrapes a running server's admin endpoints.

/** One sample line: metric name, labels and value. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const SAMPLE_LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** Every sample in `text` (comments and blank lines skipped). */
export function parseSamples(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const match = line.match(SAMPLE_LINE);
    if (!match) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? "").matchAll(LABEL)) labels[key] = value;
    samples.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return samples;
}

/**
 * The value of the sample named `name` whose labels are exactly `labels`, or undefined when
 * there is none.
 */
export function sampleValue(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const wanted = JSON.stringify(Object.entries(labels).sort());
  return parseSamples(text).find((sample) =>
    sample.name === name && JSON.stringify(Object.entries(sample.labels).sort()) === wanted
  )?.value;
}

/** Names of the metrics `text` declares with `# TYPE`. */
export function metricNames(text: string): string[] {
  return [...text.matchAll(/^# TYPE (\S+) /gm)].map((match) => match[1]);
}

/** Looks up one sample of a scrape: by name, and exact labels. */
export type Scrape = (name: string, labels?: Record<string, string>) => number | undefined;

/** The base URL of a server's admin endpoints, from its start-up line. */
export function adminUrl(banner: string): string {
  const match = banner.match(/ metrics=(http:\/\/\S+)\/metrics/);
  if (!match) throw new Error(`no metrics address in the start-up line: ${banner}`);
  return match[1];
}

/** GETs `url`, returning its status and body. */
export async function get(url: string): Promise<{ status: number; body: string }> {
  const response = await fetch(url);
  return { status: response.status, body: await response.text() };
}

/** Scrapes `${base}/metrics`; throws unless it answers 200 in the Prometheus text format. */
export async function scrape(base: string): Promise<Scrape> {
  const response = await fetch(`${base}/metrics`);
  const text = await response.text();
  const type = response.headers.get("content-type") ?? "";
  if (response.status !== 200 || !type.startsWith("text/plain; version=0.0.4")) {
    throw new Error(`/metrics answered ${response.status} (${type}): ${text.slice(0, 200)}`);
  }
  return (name, labels) => sampleValue(text, name, labels);
}

/** Polls `check` every 50 ms until it returns true, or throws after `timeoutMs`. */
export async function pollUntil(
  check: () => Promise<boolean>,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!await check()) {
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Scrapes until `done` holds for a scrape, or throws after `timeoutMs`. */
export function scrapeUntil(
  base: string,
  done: (sample: Scrape) => boolean,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  return pollUntil(async () => done(await scrape(base)), what, timeoutMs);
}
