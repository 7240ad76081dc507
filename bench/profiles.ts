// How big each scenario of `deno task bench` is: the full run, and the quick one (--quick) that
// checks everything works in well under a minute.

import type { Timing } from "./commands.ts";
import type { SlowReaderLoad } from "./sides.ts";

export interface Profile {
  timing: Timing;
  /** Scenario 1: pairs on one node. */
  pairs: number;
  /** Scenario 2: pairs on the two-node cluster. */
  clusterPairs: number;
  /** Scenario 3: group sizes (sender included), and messages the sender keeps in flight. */
  groupSizes: number[];
  fanoutWindow: number;
  /** Scenario 4: clients registering, then logging in, back to back. */
  authClients: number;
  /** Scenario 5: idle logged-in clients, how many pairs of them chat, over how many workers. */
  idleClients: number;
  idleChatPairs: number;
  idleWorkers: number;
  /** Scenario 6: client counts of the scaling curve. */
  scaling: number[];
  /**
   * Scenario 7: pairs chatting quiet, then during a login storm by `stormLoggers` connections
   * (each logging in and out back to back as its own user, hashed at the server's real cost).
   */
  stormPairs: number;
  stormLoggers: number;
  /** Scenario 8: senders writing to one reader that keeps up, then to one that never reads. */
  slowReader: SlowReaderLoad;
}

/**
 * Scenario 8 as the issue measured it: 8 senders, 4,000-character messages, each sender well
 * within the default rate limit (200 requests/s).
 */
const SLOW_READER: SlowReaderLoad = { senders: 8, msgChars: 4_000, perSenderRate: 100 };

export const PROFILES: Record<"quick" | "full", Profile> = {
  quick: {
    timing: { warmupMs: 300, measureMs: 1_000, drainMs: 3_000 },
    pairs: 20,
    clusterPairs: 20,
    groupSizes: [10, 100],
    fanoutWindow: 4,
    authClients: 2,
    idleClients: 400,
    idleChatPairs: 20,
    idleWorkers: 2,
    scaling: [10, 100],
    stormPairs: 20,
    stormLoggers: 4,
    slowReader: SLOW_READER,
  },
  full: {
    timing: { warmupMs: 1_000, measureMs: 5_000, drainMs: 5_000 },
    pairs: 200,
    clusterPairs: 200,
    groupSizes: [10, 100],
    fanoutWindow: 4,
    authClients: 8,
    idleClients: 15_000,
    idleChatPairs: 100,
    idleWorkers: 3,
    scaling: [10, 100, 1_000, 10_000],
    stormPairs: 100,
    stormLoggers: 16,
    slowReader: SLOW_READER,
  },
};

/** Users the single-node scenarios need in the seeded SQLite file. */
export function usersNeeded(profile: Profile): number {
  return Math.max(
    2 * profile.pairs,
    ...profile.groupSizes,
    profile.idleClients,
    ...profile.scaling,
    2 * profile.stormPairs,
    profile.slowReader.senders + 1,
  );
}
