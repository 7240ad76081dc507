// Presence epochs on Redis: `epoch:<id>` holds the latest epoch taken for a user. A new one is
// the last plus one, or the current time in seconds times 1000 when the key is missing, so that
// epochs keep growing even when the key is gone (expired after a day without a login, or Redis
// restarted empty) while a receiver still remembers an earlier one: the floor grows by 1000 a
// second, a user's epochs by one a login. Three commands on the key's connection, sent together:
// no script, one key, and a key per user seen in the last day.

import type { RedisKeys } from "./redis_keys.ts";
import { getMany, type RedisRouter } from "./redis_router.ts";

/** How long a user's epoch is kept after their last login, ms. */
const EPOCH_TTL_MS = 24 * 3600_000;

/** The user's next epoch; `nowMs` is the caller's clock. */
export async function nextEpoch(
  router: RedisRouter,
  keys: RedisKeys,
  userId: number,
  nowMs: number,
): Promise<number> {
  const key = keys.epoch(userId);
  const floor = String(Math.floor(nowMs / 1000) * 1000);
  const [, epoch] = await router.run("taking a presence epoch", key, (client) =>
    Promise.all([
      client.set(key, floor, { condition: "NX" }),
      client.incr(key),
      client.pExpire(key, EPOCH_TTL_MS),
    ]));
  return epoch;
}

/** The latest epoch of each given user who has one: one read per slot, issued together. */
export async function readEpochs(
  router: RedisRouter,
  keys: RedisKeys,
  userIds: readonly number[],
): Promise<Map<number, number>> {
  const found = new Map<number, number>();
  if (userIds.length === 0) return found;
  const values = await getMany(router, "reading presence epochs", userIds.map(keys.epoch, keys));
  userIds.forEach((userId, i) => {
    const epoch = Number(values[i]);
    if (values[i] !== null && Number.isSafeInteger(epoch)) found.set(userId, epoch);
  });
  return found;
}
