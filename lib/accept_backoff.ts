// How long the accept loop pauses after a failed accept, and when to say so. A failed accept
// (most often EMFILE: the process is at its open-files limit) fails again at once for as long as
// its cause lasts, so retrying without a pause spins a core and floods the log with one line per
// try. The pause starts at 5 ms and doubles up to 1 s while accepts keep failing, as Go's
// net/http does; the first failure of a run is worth a log line, and so is its end.

const FIRST_PAUSE_MS = 5;
const MAX_PAUSE_MS = 1_000;

export class AcceptBackoff {
  #pauseMs = 0;
  #failures = 0;

  /** Records a failed accept: how long to pause before the next, and if it starts a run. */
  failed(): { pauseMs: number; first: boolean } {
    this.#failures++;
    this.#pauseMs = this.#pauseMs === 0
      ? FIRST_PAUSE_MS
      : Math.min(MAX_PAUSE_MS, this.#pauseMs * 2);
    return { pauseMs: this.#pauseMs, first: this.#failures === 1 };
  }

  /** Records an accept that worked; returns how many failed in the run it ends (0: none). */
  succeeded(): number {
    const failures = this.#failures;
    this.#failures = 0;
    this.#pauseMs = 0;
    return failures;
  }
}
