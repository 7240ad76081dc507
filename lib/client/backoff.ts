// Delays between reconnection attempts: exponential backoff with jitter (half fixed, half random), so clients that
// lost the same server do not all come back at the same instant.

const FIRST_DELAY_MS = 250;
const MAX_DELAY_MS = 8_000;

/** The delay before attempt `attempt` (0 for the first retry), ms, using `random` in [0, 1). */
export function backoffDelay(attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** Math.min(attempt, 16));
  return Math.round(ceiling / 2 + random() * ceiling / 2);
}
