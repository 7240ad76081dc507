// The data scenarios start from: users and groups written straight into a store through the
// project's own repositories (lib/store), in a temp SQLite file or a throw-away MySQL database
// (bench/backends.ts). Their password hashes name a cheap scrypt cost (N=16, r=1, p=1; the server
// verifies whatever cost a hash names), because logging in 15,000 users at the server's cost
// would take about 15,000 × 50 ms of CPU. Scenario 4 measures registration and login at the
// real cost; scenario 7's loggers are users added with a hash at the real cost (addUsers).

import { hashPassword, type ScryptCost } from "../lib/password.ts";
import { openStore } from "../lib/store/open.ts";
import { DEFAULT_PENDING_CAP } from "../lib/store/types.ts";
import { track } from "./cleanup.ts";

export const PASSWORD = "pw";
export const SEED_COST = { N: 16, r: 1, p: 1 };

export interface Seeded {
  /** Ids of the users, in creation order. */
  userIds: number[];
  /** Group size → group id; group k's members are the first k users, the first one created it. */
  groupIds: Map<number, number>;
}

/** Creates `users` users (and one group per size) in the store at `url`. */
export async function seedStore(url: string, users: number, groupSizes: number[]): Promise<Seeded> {
  const store = await openStore(url, DEFAULT_PENDING_CAP);
  try {
    const hash = await hashPassword(PASSWORD, SEED_COST);
    const userIds: number[] = [];
    for (let index = 0; index < users; index++) {
      userIds.push(await store.users.create(`bench${index}`, hash));
    }
    const groupIds = new Map<number, number>();
    for (const size of groupSizes) {
      const [creator, ...members] = userIds.slice(0, size);
      const groupId = await store.groups.create(creator, `bench-${size}`, "");
      for (const member of members) await store.groups.join(groupId, member);
      groupIds.set(size, groupId);
    }
    return { userIds, groupIds };
  } finally {
    await store.close();
  }
}

/**
 * Adds `count` users named `<prefix><k>` to the store at `url`, each with its own hash of
 * PASSWORD at `cost` (as registration would store it); returns their ids in order.
 */
export async function addUsers(
  url: string,
  prefix: string,
  count: number,
  cost: ScryptCost,
): Promise<number[]> {
  const hashes = await Promise.all(
    Array.from({ length: count }, () => hashPassword(PASSWORD, cost)),
  );
  const store = await openStore(url, DEFAULT_PENDING_CAP);
  try {
    const ids: number[] = [];
    for (const [index, hash] of hashes.entries()) {
      ids.push(await store.users.create(`${prefix}${index}`, hash));
    }
    return ids;
  } finally {
    await store.close();
  }
}

/** Makes each of `users` a friend of each of `friends`. */
export async function befriend(
  url: string,
  users: readonly number[],
  friends: readonly number[],
): Promise<void> {
  const store = await openStore(url, DEFAULT_PENDING_CAP);
  try {
    for (const user of users) {
      await Promise.all(friends.map((friend) => store.friends.add(user, friend)));
    }
  } finally {
    await store.close();
  }
}

/** A temp directory, removed on dispose. */
export async function tempDir(): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix: "chat-bench-" });
  return track({ path }, () => Deno.remove(path, { recursive: true }));
}
