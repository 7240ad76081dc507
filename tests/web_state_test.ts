// What the web client knows (web/chat_state.js), without a browser: conversations by mid with
// no message twice, unread counts, history paging, presence and roster events, names learned,
// friends removed and groups left; and what the page offers to end a conversation.

import assert from "node:assert/strict";
import { ChatState, groupKey, MESSAGES_KEPT, userKey } from "../web/chat_state.js";
import { endOffer } from "../web/end_conversation.js";

const VIEW = {
  id: 1,
  name: "ann",
  friends: [{ id: 2, name: "bob", state: "online" }],
  groups: [{
    id: 7,
    groupname: "crew",
    groupdesc: "",
    users: [
      { id: 1, name: "ann", state: "online", role: "creator" },
      { id: 2, name: "bob", state: "online", role: "normal" },
    ],
  }],
};

function chat(mid: number, from: number, extra: Record<string, unknown> = { toid: 1 }) {
  return { msgid: 6, mid, id: from, name: `user${from}`, msg: `m${mid}`, time: "t", ...extra };
}

Deno.test("web state: a mid is shown once, whichever way it comes again", () => {
  const state = new ChatState();
  state.loggedIn(VIEW);
  assert.equal(state.received(chat(10, 2)), userKey(2));
  assert.equal(state.received(chat(10, 2)), null, "pushed again after a reconnect");
  state.loggedIn(VIEW); // the reconnect's login keeps what was shown
  assert.equal(state.received(chat(10, 2)), null, "in the next login's offlinemsg");
  state.history(userKey(2), [chat(9, 1, { toid: 2 }), chat(10, 2)]);
  assert.deepEqual(state.conversation(userKey(2)).messages.map((m) => m.mid), [9, 10]);
});

Deno.test("web state: unread counts others' messages outside the open conversation", () => {
  const state = new ChatState();
  state.loggedIn(VIEW);
  state.received(chat(1, 2));
  state.received(chat(2, 2));
  state.received(chat(3, 2, { groupid: 7 }));
  state.received(chat(4, 1, { groupid: 7 }));
  assert.equal(state.conversation(userKey(2)).unread, 2);
  assert.equal(state.conversation(groupKey(7)).unread, 1, "not my own message");
  assert.equal(state.unread, 3);
  state.openConversation(userKey(2));
  assert.equal(state.unread, 1);
  state.received(chat(5, 2));
  assert.equal(state.conversation(userKey(2)).unread, 0, "arrived while open");
});

Deno.test("web state: history pages go back from the oldest mid held until an empty page", () => {
  const state = new ChatState();
  state.loggedIn(VIEW);
  const key = userKey(2);
  assert.equal(state.historyCursor(key), null, "nothing held: the newest page");
  state.received(chat(50, 2));
  assert.equal(state.historyCursor(key), 50);
  state.history(key, [chat(30, 2), chat(40, 1, { toid: 2 })]);
  assert.equal(state.historyCursor(key), 30);
  assert.equal(state.conversation(key).historyDone, false);
  state.history(key, [chat(20, 2)], true);
  assert.equal(state.conversation(key).historyDone, true, "a page shorter than asked for");
  const other = userKey(3);
  state.history(other, []);
  assert.equal(state.conversation(other).historyDone, true, "an empty page");
});

Deno.test("web state: a conversation keeps its newest messages up to its bound", () => {
  const state = new ChatState();
  state.loggedIn(VIEW);
  for (let mid = 1; mid <= MESSAGES_KEPT + 5; mid++) state.received(chat(mid, 2));
  const messages = state.conversation(userKey(2)).messages;
  assert.equal(messages.length, MESSAGES_KEPT);
  assert.equal(messages[0].mid, 6);
  assert.equal(state.historyCursor(userKey(2)), 6);
});

Deno.test("web state: presence and roster events update friends and members", () => {
  const state = new ChatState();
  state.loggedIn(VIEW);
  state.presence({ id: 2, name: "bob", state: "offline" });
  assert.equal(state.friends.get(2)?.state, "offline");
  assert.equal(state.groups.get(7)?.users[1].state, "offline");
  state.roster({ event: "friend_added", friend: { id: 3, name: "cy", state: "online" } });
  state.roster({
    event: "member_joined",
    groupid: 7,
    user: { id: 3, name: "cy", state: "online", role: "normal" },
  });
  assert.deepEqual(state.groups.get(7)?.users.map((u) => u.name), ["ann", "bob", "cy"]);
  state.roster({ event: "member_left", groupid: 7, id: 1, creator: 2 });
  assert.deepEqual(state.groups.get(7)?.users.map((u) => [u.name, u.role]), [
    ["bob", "creator"],
    ["cy", "normal"],
  ]);
  state.roster({ event: "member_left", groupid: 7, id: 2 });
  state.roster({ event: "friend_removed", id: 2 });
  state.roster({ event: "something_new" });
  assert.deepEqual([...state.friends.keys()], [3]);
  assert.deepEqual(state.groups.get(7)?.users.map((u) => u.name), ["cy"]);
});

Deno.test("web state: senders who are not friends are listed; a friend known by id learns a name", () => {
  const state = new ChatState();
  state.loggedIn({ ...VIEW, friends: [] });
  state.addFriend({ id: 4 });
  assert.deepEqual(state.people().map((p) => p.name), ["user #4"]);
  state.received({ ...chat(1, 4), name: "dee" });
  state.received({ ...chat(2, 5), name: "eve" });
  assert.deepEqual(state.people().map((p) => [p.name, p.state]), [
    ["dee", "unknown"],
    ["eve", null],
  ]);
});

Deno.test("web state: a removed friend and a group left are forgotten with their conversations", () => {
  const state = new ChatState();
  state.loggedIn({ ...VIEW, friends: [...VIEW.friends, { id: 3, name: "cy", state: "online" }] });
  state.received(chat(1, 2));
  state.received({ ...chat(2, 3), name: "cy" });
  state.received(chat(3, 2, { groupid: 7 }));
  state.openConversation(userKey(2));
  state.removeFriend(2);
  assert.equal(state.open, null, "the open conversation closes");
  assert.deepEqual(state.people().map((p) => p.name), ["cy"]);
  state.openConversation(groupKey(7));
  state.leaveGroup(7);
  assert.equal(state.open, null);
  assert.deepEqual([...state.groups.keys()], []);
  assert.deepEqual([...state.conversations.keys()], [userKey(3)]);
  // Removed by the other side (ROSTER push): the same.
  state.roster({ event: "friend_removed", id: 3 });
  assert.deepEqual(state.people(), []);
  // A later message from a former friend is shown again, listed as not a friend.
  assert.equal(state.received(chat(1, 2)), userKey(2));
  assert.deepEqual(state.people().map((p) => [p.name, p.state]), [["user2", null]]);
});

Deno.test("web state: the button beside the title removes a friend or leaves a group", () => {
  const state = new ChatState();
  state.loggedIn(VIEW);
  state.received(chat(1, 5));
  assert.deepEqual(endOffer(state, userKey(2)), {
    key: userKey(2),
    label: "Remove friend",
    question: "Really remove bob?",
  });
  assert.deepEqual(endOffer(state, groupKey(7)), {
    key: groupKey(7),
    label: "Leave group",
    question: "Really leave crew?",
  });
  assert.equal(endOffer(state, userKey(5)), null, "not a friend: nothing to remove");
  assert.equal(endOffer(state, null), null);
});
