// @ts-check
// Ending a conversation from the page, without any DOM: what the button beside the open
// conversation's title offers (remove the friend, leave the group; nothing for a conversation
// with someone who is not a friend), and doing it (REMOVE_FRIEND or LEAVE_GROUP, then the state
// forgets the friend or group with its conversation). The other side learns it by a ROSTER push.

import { MsgId } from "./chat_link.js";

/** @typedef {import("./chat_link.js").ChatLink} ChatLink */
/** @typedef {import("./chat_state.js").ChatState} ChatState */

/**
 * What the button offers for conversation `key` (a ConfirmTarget of confirm_button.js), or null
 * for no button.
 * @returns {{ key: string, label: string, question: string } | null}
 */
export function endOffer(/** @type {ChatState} */ state, /** @type {string | null} */ key) {
  if (key === null) return null;
  const id = Number(key.slice(2));
  if (key.startsWith("g:")) {
    const group = state.groups.get(id);
    if (!group) return null;
    return { key, label: "Leave group", question: `Really leave ${group.groupname}?` };
  }
  const friend = state.friends.get(id);
  if (!friend) return null;
  return { key, label: "Remove friend", question: `Really remove ${friend.name}?` };
}

/** Removes the friend or leaves the group of conversation `key`; rejects with a RequestError. */
export async function endConversation(
  /** @type {ChatLink} */ link,
  /** @type {ChatState} */ state,
  /** @type {string} */ key,
) {
  const id = Number(key.slice(2));
  if (key.startsWith("g:")) {
    await link.request({ msgid: MsgId.LEAVE_GROUP, groupid: id });
    state.leaveGroup(id);
  } else {
    await link.request({ msgid: MsgId.REMOVE_FRIEND, friendid: id });
    state.removeFriend(id);
  }
}
