// TurnQueue (lib/store/turn_queue.ts): group commit for network stores.

import assert from "node:assert/strict";
import { type Flush, TurnQueue } from "../lib/store/turn_queue.ts";

/** A flush that records its batches and finishes when the test releases it. */
function recordingFlush() {
  const batches: number[][] = [];
  const releases: (() => void)[] = [];
  let inFlight = 0, mostInFlight = 0;
  const flush: Flush<number, string> = async (items) => {
    batches.push(items);
    mostInFlight = Math.max(mostInFlight, ++inFlight);
    await new Promise<void>((resolve) => releases.push(resolve));
    inFlight--;
    return items.map((item) =>
      item < 0
        ? { status: "rejected", reason: new Error(`bad ${item}`) }
        : { status: "fulfilled", value: `done ${item}` }
    );
  };
  /** Lets every batch finish, including those that start meanwhile, until none is left. */
  const releaseAll = async () => {
    for (let quiet = 0; quiet < 5;) {
      if (releases.length > 0) {
        releases.shift()!();
        quiet = 0;
      } else {
        quiet++;
      }
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
  };
  return { flush, batches, releaseAll, mostInFlight: () => mostInFlight };
}

const turn = () => new Promise((resolve) => setTimeout(resolve, 0));

/** Waits until `done` holds (timers and immediates may run in either order). */
async function until(done: () => boolean): Promise<void> {
  for (let waited = 0; !done(); waited++) {
    if (waited > 1000) throw new Error("timed out waiting");
    await turn();
  }
}

Deno.test("turn queue: one turn's items go as one batch, later ones wait for a free slot", async () => {
  const recorder = recordingFlush();
  const queue = new TurnQueue(recorder.flush, { maxInFlight: 1, maxBatch: 10 });
  const first = [1, 2, 3].map((n) => queue.submit(n));
  await until(() => recorder.batches.length === 1);
  const second = [4, 5].map((n) => queue.submit(n));
  await turn();
  const third = [6].map((n) => queue.submit(n));
  await turn();
  assert.deepEqual(recorder.batches, [[1, 2, 3]], "the others wait while one is in flight");
  await recorder.releaseAll();
  assert.deepEqual(recorder.batches, [[1, 2, 3], [4, 5, 6]], "what waited goes together");
  assert.deepEqual(await Promise.all([...first, ...second, ...third]), [
    "done 1",
    "done 2",
    "done 3",
    "done 4",
    "done 5",
    "done 6",
  ]);
  assert.equal(recorder.mostInFlight(), 1);
});

Deno.test("turn queue: batches are capped, and several fly at once up to the limit", async () => {
  const recorder = recordingFlush();
  const queue = new TurnQueue(recorder.flush, { maxInFlight: 2, maxBatch: 3 });
  const all = Array.from({ length: 8 }, (_, n) => queue.submit(n));
  await until(() => recorder.batches.length === 2);
  await turn();
  assert.deepEqual(recorder.batches, [[0, 1, 2], [3, 4, 5]]);
  await recorder.releaseAll();
  assert.deepEqual(recorder.batches, [[0, 1, 2], [3, 4, 5], [6, 7]]);
  assert.equal((await Promise.all(all)).length, 8);
  assert.equal(recorder.mostInFlight(), 2);
});

Deno.test("turn queue: an item's own failure, or the batch's, reaches its callers", async () => {
  const recorder = recordingFlush();
  const queue = new TurnQueue(recorder.flush, { maxInFlight: 1, maxBatch: 10 });
  const good = queue.submit(1);
  const bad = assert.rejects(queue.submit(-1), /bad -1/);
  await turn();
  await recorder.releaseAll();
  assert.equal(await good, "done 1");
  await bad;

  const failing = new TurnQueue<number, string>(() => Promise.reject(new Error("away")), {
    maxInFlight: 1,
    maxBatch: 10,
  });
  const results = await Promise.allSettled([failing.submit(1), failing.submit(2)]);
  assert.deepEqual(results.map((result) => result.status), ["rejected", "rejected"]);
});
