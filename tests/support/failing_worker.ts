// A checkpointer worker that cannot open the database: it answers the start request with
// "failed", as lib/store/checkpoint_worker.ts does (tests/sqlite_checkpointer_test.ts).

/// <reference lib="deno.worker" />

import type { CheckpointReply } from "../../lib/store/checkpointer.ts";

self.onmessage = () => {
  self.postMessage({ kind: "failed", message: "cannot open the database" } as CheckpointReply);
};
