// Protocol error numbers (PROTOCOL.md "errno") and the typed error that carries one.
// Handlers throw ChatError; the dispatcher turns it into a response frame with its errno.

/** The errno values of protocol v1. */
export const Errno = {
  OK: 0,
  BAD_CREDENTIALS: 1,
  ALREADY_ONLINE: 2,
  BAD_REQUEST: 3,
  NOT_LOGGED_IN: 4,
  NOT_FOUND: 5,
  CONFLICT: 6,
  TOO_LARGE: 7,
  RATE_LIMITED: 8,
  SERVER_ERROR: 9,
} as const;

export type ErrnoValue = typeof Errno[keyof typeof Errno];

/** Words for each errno, shown by the client and used as default messages. */
export const ERRNO_TEXT: Record<ErrnoValue, string> = {
  0: "ok",
  1: "wrong id/name or password",
  2: "this account is already online",
  3: "bad request",
  4: "not logged in",
  5: "no such user or group",
  6: "conflict",
  7: "too large or too many",
  8: "rate limited",
  9: "server error",
};

/** A failure that maps to a protocol errno; its message is safe to send to the client. */
export class ChatError extends Error {
  readonly errno: ErrnoValue;

  constructor(errno: ErrnoValue, message: string = ERRNO_TEXT[errno]) {
    super(message);
    this.name = "ChatError";
    this.errno = errno;
  }
}

/**
 * Work skipped because the connection it was for has closed (a password hash still queued, say):
 * there is nobody to answer, and nothing went wrong.
 */
export class CancelledError extends Error {
  constructor(message = "cancelled: the connection closed") {
    super(message);
    this.name = "CancelledError";
  }
}

/** The backend a StorageError comes from: the store (SQLite, MySQL) or the cluster (Redis). */
export type Backend = "store" | "cluster";

/**
 * A storage or routing backend failed (unreachable, timed out); maps to errno 9. Clients see a
 * generic message; `detail` (for logs and start-up errors) says what failed.
 */
export class StorageError extends ChatError {
  readonly detail: string;
  /** Which backend failed; default "store". */
  readonly backend: Backend;

  constructor(detail: string, options?: { cause?: unknown; backend?: Backend }) {
    super(Errno.SERVER_ERROR, "server error: storage unavailable, nothing was changed; try again");
    this.name = "StorageError";
    this.detail = detail;
    this.backend = options?.backend ?? "store";
    if (options?.cause !== undefined) this.cause = options.cause;
  }
}
