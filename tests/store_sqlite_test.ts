// Runs the repository contract against the embedded SQLite store, in memory and on disk.

import assert from "node:assert/strict";
import { openSqliteStore } from "../lib/store/sqlite.ts";
import { storeContract } from "./store_contract.ts";

storeContract("sqlite (memory)", (cap) => Promise.resolve(openSqliteStore(":memory:", cap)));

Deno.test("sqlite store: data survives closing and reopening the file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/chat.db`;
    const first = openSqliteStore(path);
    const id = await first.users.create("persistent", "h");
    await first.messages.append({
      senderId: id,
      senderName: "persistent",
      toId: id,
      groupId: null,
      msg: "kept",
      time: "2026-01-02T03:04:05.678Z",
      key: null,
      recipients: [id],
    });
    await first.close();
    const second = openSqliteStore(path);
    assert.equal((await second.users.findById(id))?.name, "persistent");
    assert.equal((await second.messages.pending(id))[0].msg, "kept");
    await second.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
