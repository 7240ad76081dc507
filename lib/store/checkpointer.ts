// Takes SQLite's write-ahead-log checkpoints off the event loop. By default the connection that
// commits also copies the log back into the database every 1,000 pages, inside its COMMIT: with
// a busy server that is a stall of 10-40 ms (fsync included) every few hundred milliseconds, and
// in a micro-benchmark of the server's appends more than half of their time. Here the server's
// connection never checkpoints; a worker thread (lib/store/checkpoint_worker.ts) does, on its
// own connection, with passive checkpoints only, which never hold the server's writes up. The
// log starts over from its beginning at the first write after a checkpoint that caught up (any
// pause in the writes longer than one checkpoint) and its file is then cut back to 64 MiB; under
// writes that never pause and outrun the copying, it grows until they do. Measured: at 30,000
// rows/s of 300 bytes the log peaked at 71 MB; at 130 MB/s of rows without a pause it grew by
// gigabytes, which no chat server on one disk sustains.
// Should the worker fail, the connection checkpoints itself again, as SQLite does by default.

import type { DatabaseSync } from "node:sqlite";

export type CheckpointRequest =
  | { kind: "start"; path: string; everyMs: number }
  | { kind: "stop" };

export type CheckpointReply = { kind: "failed"; message: string } | { kind: "stopped" };

/** How often the worker checkpoints. */
const EVERY_MS = 100;
/** SQLite's own default, restored when the worker fails. */
const DEFAULT_AUTOCHECKPOINT_PAGES = 1_000;
/** How long stop() waits for the worker to close its connection before ending it anyway. */
const STOP_WAIT_MS = 2_000;
/** After a reset, a log file larger than this is cut back to it. */
const JOURNAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024;

export class Checkpointer {
  readonly #db: DatabaseSync;
  readonly #worker: Worker;
  readonly #onFailure: (message: string) => void;
  #stopped: Promise<void> | null = null;

  /**
   * Starts checkpointing the file at `path`, which `db` (in WAL mode) has open. `onFailure`
   * hears why the worker stopped, after `db` went back to checkpointing itself. `workerUrl`
   * is lib/store/checkpoint_worker.ts unless a test names another.
   */
  constructor(
    db: DatabaseSync,
    path: string,
    onFailure: (message: string) => void,
    workerUrl = new URL("./checkpoint_worker.ts", import.meta.url),
  ) {
    this.#db = db;
    this.#onFailure = onFailure;
    db.exec(
      `PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = ${JOURNAL_SIZE_LIMIT_BYTES};`,
    );
    this.#worker = new Worker(workerUrl.href, { type: "module" });
    this.#worker.onmessage = (event: MessageEvent<CheckpointReply>) => {
      if (event.data.kind === "failed") this.#fail(event.data.message);
    };
    this.#worker.onerror = (event) => {
      event.preventDefault();
      this.#fail(event.message);
    };
    const start: CheckpointRequest = { kind: "start", path, everyMs: EVERY_MS };
    this.#worker.postMessage(start);
  }

  /** Stops the worker (its connection closed); the caller then closes `db`. */
  stop(): Promise<void> {
    this.#stopped ??= new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, STOP_WAIT_MS);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      this.#worker.onmessage = (event: MessageEvent<CheckpointReply>) => {
        if (event.data.kind === "stopped") done();
      };
      this.#worker.onerror = (event) => {
        event.preventDefault();
        done();
      };
      this.#worker.postMessage({ kind: "stop" } satisfies CheckpointRequest);
    }).finally(() => this.#worker.terminate());
    return this.#stopped;
  }

  #fail(message: string): void {
    if (this.#stopped) return;
    this.#stopped = Promise.resolve();
    this.#worker.terminate();
    if (this.#db.isOpen) {
      this.#db.exec(`PRAGMA wal_autocheckpoint = ${DEFAULT_AUTOCHECKPOINT_PAGES}`);
    }
    this.#onFailure(message);
  }
}
