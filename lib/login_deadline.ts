// Which connections have stayed logged out too long: a connection gets `timeoutMs` from when it
// opened, or from its logout, to log in; one that has not by then is due to be closed. What it
// sends meanwhile (PING included) does not extend the deadline, so an unauthenticated connection
// holds a socket, a read buffer and a queue for at most `timeoutMs` plus one sweep.

export class LoginDeadlines<C> {
  readonly #timeoutMs: number;
  readonly #now: () => number;
  /** When each logged-out connection became so; insertion order is that order. */
  readonly #anonymousSince = new Map<C, number>();

  /** `now` is a monotonic clock in ms. */
  constructor(timeoutMs: number, now: () => number = () => performance.now()) {
    this.#timeoutMs = timeoutMs;
    this.#now = now;
  }

  /** Notes a connection's login state: called when it opens and after each request. */
  update(connection: C, loggedIn: boolean): void {
    if (loggedIn) this.#anonymousSince.delete(connection);
    else if (!this.#anonymousSince.has(connection)) {
      this.#anonymousSince.set(connection, this.#now());
    }
  }

  /** Forgets a closed connection. */
  forget(connection: C): void {
    this.#anonymousSince.delete(connection);
  }

  /** Connections logged out for the whole timeout, now. */
  expired(): C[] {
    const cutoff = this.#now() - this.#timeoutMs;
    const due: C[] = [];
    for (const [connection, since] of this.#anonymousSince) {
      if (since > cutoff) break; // later ones became anonymous later still
      due.push(connection);
    }
    return due;
  }
}
