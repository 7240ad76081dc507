// What a user sees at login: friends and groups with cluster-wide presence, and the pushes that
// waited for them while they were offline (for a receipts session, with what an earlier session
// took directly and may not have confirmed: lib/delivery_cursor.ts). The friends' states are settled by the roster
// (lib/roster/roster.ts), which merges what changed while this was read.

import type { GroupView, PresenceState } from "../protocol.ts";
import type { Session } from "../session.ts";
import type { StoredMessage, UserSummary } from "../store/types.ts";
import { type Backlog, splitBacklog } from "./backlog.ts";
import { pushOf } from "../push.ts";
import type { ChatDeps } from "./context.ts";

export interface LoginView {
  friends: UserSummary[];
  /** The node of each friend and group member online. */
  located: Map<number, string>;
  groups: GroupView[];
  offline: Backlog;
}

/** What `userId` sees on logging in; `receipts` is the session if it is a receipts one. */
export async function loginView(
  userId: number,
  receipts: Session | null,
  deps: ChatDeps,
): Promise<LoginView> {
  // The cursor first: what an earlier session's end makes pending is then read below, or back.
  const readBack = receipts ? await deps.delivery.openCursor(userId, receipts) : [];
  const [friends, groups, pending, dropped] = await Promise.all([
    deps.store.friends.list(userId),
    deps.store.groups.listForUser(userId),
    deps.store.messages.pending(userId),
    deps.store.messages.takeDropped(userId),
  ]);
  const everyone = new Set(friends.map((friend) => friend.id));
  for (const group of groups) for (const member of group.members) everyone.add(member.id);
  const online = await deps.presence.locate([...everyone]);
  const state = (id: number): PresenceState => online.has(id) ? "online" : "offline";
  return {
    friends,
    located: online,
    groups: groups.map((group) => ({
      id: group.id,
      groupname: group.groupname,
      groupdesc: group.groupdesc,
      users: group.members.map((member) => ({
        id: member.id,
        name: member.name,
        state: state(member.id),
        role: member.role,
      })),
    })),
    offline: splitBacklog(mergeByMid(pending, readBack).map(pushOf), dropped),
  };
}

/** Two lists in increasing mid order as one, each mid once. */
function mergeByMid(a: StoredMessage[], b: StoredMessage[]): StoredMessage[] {
  if (b.length === 0) return a;
  const merged: StoredMessage[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const next = j >= b.length || (i < a.length && a[i].mid <= b[j].mid) ? a[i++] : b[j++];
    if (merged.at(-1)?.mid !== next.mid) merged.push(next);
  }
  return merged;
}
