// Formatting: times, chat lines, server errors and ACK outcomes, the login summary and the local
// view, and reading server frames (tolerating malformed ones) into what is shown.

import assert from "node:assert/strict";
import type { Frame } from "../lib/protocol.ts";
import {
  formatFailure,
  formatHistory,
  formatLoginSummary,
  formatPush,
  formatRegistered,
  formatReplyError,
  formatSuccess,
  formatTime,
  formatUnsolicited,
  formatUpdate,
  formatView,
  printable,
} from "../lib/client/render.ts";
import { readChatPush, readLoginAck, readRosterUpdate } from "../lib/client/replies.ts";
import { afterSuccess, afterUpdate } from "../lib/client/view.ts";

/** The ISO time of a local wall-clock time, so expectations hold in any time zone. */
function localIso(...parts: [number, number, number, number, number, number]): string {
  const [year, month, day, hour, minute, second] = parts;
  return new Date(year, month - 1, day, hour, minute, second, 250).toISOString();
}

const TIME = localIso(2026, 11, 23, 10, 1, 2);
const SHOWN_TIME = "2026-11-23 10:01:02";

const LOGIN_ACK: Frame = {
  msgid: 2,
  errno: 0,
  seq: 1,
  id: 1,
  name: "alice",
  node: "n1",
  friends: [{ id: 2, name: "bob", state: "online" }, { id: 3, name: "carol", state: "offline" }],
  groups: [{
    id: 3,
    groupname: "devs",
    groupdesc: "the dev group",
    users: [
      { id: 1, name: "alice", state: "online", role: "creator" },
      { id: 2, name: "bob", state: "online", role: "normal" },
    ],
  }],
  offlinemsg: [
    { msgid: 6, mid: 8, id: 3, name: "carol", toid: 1, msg: "are you there?", time: TIME },
    { msgid: 10, mid: 9, id: 2, name: "bob", groupid: 3, msg: "standup: 10:30", time: TIME },
  ],
};

Deno.test("times are shown in local time, to the second", () => {
  assert.equal(formatTime(TIME), SHOWN_TIME);
  assert.equal(formatTime(localIso(2027, 1, 5, 0, 0, 9)), "2027-01-05 00:00:09");
  assert.equal(formatTime("yesterday"), "yesterday");
});

Deno.test("chat lines name the sender, and the group for group messages", () => {
  const one = {
    msgid: 6,
    mid: 7,
    id: 1,
    name: "alice",
    toid: 2,
    msg: "hello",
    time: TIME,
  } as const;
  const group = {
    msgid: 10,
    mid: 8,
    id: 1,
    name: "alice",
    groupid: 3,
    msg: "hi",
    time: TIME,
  } as const;
  assert.equal(formatPush(one), `[${SHOWN_TIME}] alice(1): hello`);
  assert.equal(formatPush(group), `[${SHOWN_TIME}] group 3 | alice(1): hi`);
});

Deno.test("control characters from the server are escaped, other text kept", () => {
  assert.equal(printable("a\nb\tc\r\u001b[2J\u0007\u009b"), "a\\nb\\tc\\r\\x1b[2J\\x07\\x9b");
  assert.equal(printable("héllo 😀 日本"), "héllo 😀 日本");
  const push = {
    msgid: 6,
    mid: 7,
    id: 1,
    name: "ev\u001bil",
    toid: 2,
    msg: "x\ny",
    time: TIME,
  } as const;
  assert.equal(formatPush(push), `[${SHOWN_TIME}] ev\\x1bil(1): x\\ny`);
});

Deno.test("unsolicited frames: chat pushes and errors are shown, others ignored", () => {
  const push = { msgid: 10, mid: 9, id: 2, name: "bob", groupid: 3, msg: "hi", time: TIME };
  assert.equal(formatUnsolicited(push), `[${SHOWN_TIME}] group 3 | bob(2): hi`);
  assert.equal(
    formatUnsolicited({ msgid: 12, errno: 3, errmsg: "bad request: frame is not valid JSON" }),
    "server error: bad request: frame is not valid JSON (errno 3: bad request)",
  );
  assert.equal(formatUnsolicited({ msgid: 13, id: 2, state: "online" }), null);
  assert.equal(formatUnsolicited({ msgid: 6, id: 2, msg: "no name or time" }), null);
});

Deno.test("failures show errmsg, errno and its words, without repeating the words", () => {
  assert.equal(
    formatFailure({ msgid: 11, errno: 5, errmsg: "no user with id 9" }),
    "error: no user with id 9 (errno 5: no such user or group)",
  );
  assert.equal(
    formatFailure({ msgid: 2, errno: 1, errmsg: "wrong id/name or password" }),
    "error: wrong id/name or password (errno 1)",
  );
  assert.equal(formatFailure({ msgid: 11, errno: 8 }), "error: rate limited (errno 8)");
  assert.equal(
    formatFailure({ msgid: 11, errno: 42, errmsg: "new kind" }),
    "error: new kind (errno 42: unknown error)",
  );
});

Deno.test("a reply is an error unless it is errno 0 with the expected msgid", () => {
  assert.equal(formatReplyError({ msgid: 11, errno: 0, seq: 4 }, 11), null);
  assert.equal(
    formatReplyError({ msgid: 11, errno: 6, errmsg: "already friends", seq: 4 }, 11),
    "error: already friends (errno 6: conflict)",
  );
  assert.equal(
    formatReplyError({ msgid: 12, errno: 3, errmsg: "bad request: 'toid' missing" }, 11),
    "error: bad request: 'toid' missing (errno 3: bad request)",
  );
  assert.equal(
    formatReplyError({ msgid: 5, errno: 0 }, 11),
    "error: unexpected reply from server (msgid 5)",
  );
  assert.equal(
    formatReplyError({ msgid: 11 }, 11),
    "error: unexpected reply from server (msgid 11)",
  );
});

Deno.test("each command's success is said from its ACK", () => {
  const ack = { msgid: 11, errno: 0 };
  assert.equal(formatSuccess({ kind: "chat", toid: 2, msg: "x" }, ack), "sent");
  assert.equal(formatSuccess({ kind: "groupchat", groupid: 3, msg: "x" }, ack), "sent");
  assert.equal(formatSuccess({ kind: "addfriend", friendid: 5 }, ack), "friend 5 added");
  assert.equal(formatSuccess({ kind: "addgroup", groupid: 3 }, ack), "joined group 3");
  assert.equal(formatSuccess({ kind: "logout" }, ack), "logged out");
  const create = { kind: "creategroup", groupname: "g", groupdesc: "" } as const;
  assert.equal(formatSuccess(create, { ...ack, groupid: 3 }), "group 3 created");
  assert.equal(formatSuccess(create, ack), "group created");
});

Deno.test("registration shows the new id", () => {
  assert.equal(formatRegistered({ msgid: 5, errno: 0, id: 7 }), "registered, your id is 7");
  assert.equal(formatRegistered({ msgid: 5, errno: 0 }), "registered");
});

Deno.test("the login summary: node, user, friends, groups, then offline messages", () => {
  assert.deepEqual(formatLoginSummary(readLoginAck(LOGIN_ACK)), [
    "connected to node n1",
    "logged in as alice(1)",
    "friends (2):",
    "  bob(2) online",
    "  carol(3) offline",
    "groups (1):",
    "  group 3 devs: the dev group",
    "    alice(1) creator online",
    "    bob(2) normal online",
    "offline messages (2):",
    `  [${SHOWN_TIME}] carol(3): are you there?`,
    `  [${SHOWN_TIME}] group 3 | bob(2): standup: 10:30`,
  ]);
});

Deno.test("an empty login: no friends, no groups, no offline section", () => {
  const login = readLoginAck({ msgid: 2, errno: 0, id: 9, name: "zed" });
  assert.deepEqual(formatLoginSummary(login), [
    "logged in as zed(9)",
    "friends: none",
    "groups: none",
  ]);
});

Deno.test("malformed login entries are skipped and missing fields get neutral values", () => {
  const { view, offline } = readLoginAck({
    msgid: 2,
    errno: 0,
    id: 1,
    name: "alice",
    friends: [{ id: 2, name: "bob", state: "away" }, { name: "no id" }, "junk", null],
    groups: [{ id: 4, users: [{ id: 1 }, { id: "x" }] }],
    offlinemsg: ['{"msgid":6}', {
      msgid: 6,
      mid: 3,
      id: 2,
      name: "bob",
      toid: 1,
      msg: "ok",
      time: TIME,
    }],
  });
  assert.deepEqual(view.friends, [{ id: 2, name: "bob", state: undefined }]);
  assert.deepEqual(view.groups, [{
    id: 4,
    groupname: undefined,
    groupdesc: undefined,
    users: [{ id: 1, name: "", state: "offline", role: "normal" }],
  }]);
  assert.equal(offline.length, 1);
  assert.equal(view.node, undefined);
  assert.equal(readChatPush({ msgid: 6, id: 2, name: "bob", msg: "no toid", time: TIME }), null);
});

Deno.test("the local view adds the friends and groups of successful commands, once", () => {
  const ack = { msgid: 11, errno: 0 };
  const creategroup = { kind: "creategroup", groupname: "new", groupdesc: "" } as const;
  let view = readLoginAck(LOGIN_ACK).view;
  view = afterSuccess(view, { kind: "addfriend", friendid: 5 }, ack);
  view = afterSuccess(view, { kind: "addfriend", friendid: 5 }, ack);
  view = afterSuccess(view, { kind: "addfriend", friendid: 2 }, ack);
  view = afterSuccess(view, creategroup, { ...ack, groupid: 7 });
  view = afterSuccess(view, creategroup, ack);
  view = afterSuccess(view, { kind: "addgroup", groupid: 8 }, ack);
  view = afterSuccess(view, { kind: "addgroup", groupid: 3 }, ack);
  view = afterSuccess(view, { kind: "chat", toid: 9, msg: "x" }, ack);
  assert.deepEqual(formatView(view), [
    "logged in as alice(1)",
    "friends (3):",
    "  bob(2) online",
    "  carol(3) offline",
    "  5 (added in this session)",
    "groups (3):",
    "  group 3 devs: the dev group",
    "    alice(1) creator online",
    "    bob(2) normal online",
    "  group 7 new",
    "    alice(1) creator online",
    "  group 8 (joined in this session)",
    "    alice(1) normal online",
  ]);
});

Deno.test("history pages show mids, and how to ask for older ones when the page is full", () => {
  const reply = {
    msgid: 11,
    errno: 0,
    messages: [
      { msgid: 6, mid: 7, id: 1, name: "alice", toid: 2, msg: "one", time: TIME },
      { msgid: 6, mid: 9, id: 2, name: "bob", toid: 1, msg: "two", time: TIME },
    ],
  };
  assert.deepEqual(formatHistory({ kind: "history", count: 2, before: null, peer: 2 }, reply), [
    "history with 2 (2):",
    `  #7 [${SHOWN_TIME}] alice(1): one`,
    `  #9 [${SHOWN_TIME}] bob(2): two`,
    "  older: history:2:2:7",
  ]);
  const group = { kind: "history", count: 20, before: null, groupid: 4 } as const;
  assert.deepEqual(formatHistory(group, { msgid: 11, errno: 0, messages: [] }), [
    "history of group 4: no messages",
  ]);
});

Deno.test("the login summary counts offline messages still to come and dropped ones", () => {
  const login = readLoginAck({ ...LOGIN_ACK, offlinemore: 3, offlinedropped: 2 });
  const lines = formatLoginSummary(login);
  assert.ok(lines.includes("offline messages (5):"));
  assert.ok(lines.includes("  ... 3 more follow"));
  assert.ok(lines.includes("note: 2 older offline messages were dropped because too many waited"));
});

Deno.test("a server notice is shown", () => {
  assert.equal(
    formatUnsolicited({ msgid: 16, notice: "shutdown", errmsg: "this server is shutting down" }),
    "server notice: this server is shutting down",
  );
});

Deno.test("roster updates are read, shown as lines, and change the view", () => {
  const now = new Date(TIME);
  let view = readLoginAck(LOGIN_ACK).view;
  const apply = (frame: Frame) => {
    const update = readRosterUpdate(frame);
    assert.ok(update, JSON.stringify(frame));
    const line = formatUpdate(update, view, now);
    view = afterUpdate(view, update);
    return line;
  };
  assert.equal(
    apply({ msgid: 17, id: 2, name: "bob", state: "offline" }),
    `[${SHOWN_TIME}] bob(2) is offline`,
  );
  assert.equal(
    apply({ msgid: 18, event: "friend_added", friend: { id: 4, name: "dave", state: "online" } }),
    `[${SHOWN_TIME}] dave(4) added you as a friend`,
  );
  assert.equal(
    apply({
      msgid: 18,
      event: "member_joined",
      groupid: 3,
      user: { id: 4, name: "dave", state: "online", role: "normal" },
    }),
    `[${SHOWN_TIME}] dave(4) joined group 3 (devs)`,
  );
  assert.equal(
    apply({ msgid: 18, event: "friend_removed", id: 3 }),
    `[${SHOWN_TIME}] carol(3) removed you as a friend`,
  );
  assert.deepEqual(formatView(view).slice(1, 4), [
    "friends (2):",
    "  bob(2) offline",
    "  dave(4) online",
  ]);
  assert.equal(
    apply({ msgid: 18, event: "member_left", groupid: 3, id: 1, creator: 2 }),
    `[${SHOWN_TIME}] alice(1) left group 3 (devs); bob(2) is now its creator`,
  );
  assert.deepEqual(formatView(view).slice(-3), [
    "  group 3 devs: the dev group",
    "    bob(2) creator offline",
    "    dave(4) normal online",
  ]);
  assert.equal(
    formatUpdate({ msgid: 18, event: "member_left", groupid: 9, id: 7 }, view, now),
    `[${SHOWN_TIME}] user 7 left group 9`,
  );
  for (
    const bad of [
      { msgid: 17, id: 2, state: "away" },
      { msgid: 18, event: "friend_added", friend: { id: 4 } },
      { msgid: 18, event: "member_left", groupid: 3 },
      { msgid: 18, event: "party" },
    ]
  ) {
    assert.equal(readRosterUpdate(bad), null, JSON.stringify(bad));
  }
});

Deno.test("the ACKs of addfriend and addgroup put the friend and the group in the view", () => {
  const view = readLoginAck(LOGIN_ACK).view;
  const withDave = afterSuccess(view, { kind: "addfriend", friendid: 4 }, {
    msgid: 11,
    errno: 0,
    friend: { id: 4, name: "dave", state: "online" },
  });
  assert.deepEqual(withDave.friends.at(-1), { id: 4, name: "dave", state: "online" });
  const joined = afterSuccess(view, { kind: "addgroup", groupid: 5 }, {
    msgid: 11,
    errno: 0,
    group: {
      id: 5,
      groupname: "ops",
      groupdesc: "",
      users: [{ id: 2, name: "bob", state: "online", role: "creator" }],
    },
  });
  assert.deepEqual(formatView(joined).slice(-2), ["  group 5 ops", "    bob(2) creator online"]);
  const left = afterSuccess(joined, { kind: "leavegroup", groupid: 3 }, { msgid: 11, errno: 0 });
  assert.deepEqual(left.groups.map((group) => group.id), [5]);
  const removed = afterSuccess(view, { kind: "removefriend", friendid: 2 }, {
    msgid: 11,
    errno: 0,
  });
  assert.deepEqual(removed.friends.map((friend) => friend.id), [3]);
});
