// Parsing what the user types: menu choices, commands with their colon rules and limits, login
// identity, new names and passwords, and the request frame of each command.

import assert from "node:assert/strict";
import {
  checkNewName,
  checkPassword,
  parseCommand,
  parseLoginIdentity,
  parseMenuChoice,
  requestFrame,
} from "../lib/client/commands.ts";

function errorOf(result: object | string): string {
  assert.ok(typeof result === "object" && "error" in result, `expected an error, got ${result}`);
  return String(result.error);
}

Deno.test("menu choices by number or word, sleep, and anything else rejected", () => {
  assert.deepEqual(parseMenuChoice("1"), { kind: "login" });
  assert.deepEqual(parseMenuChoice(" login "), { kind: "login" });
  assert.deepEqual(parseMenuChoice("2"), { kind: "register" });
  assert.deepEqual(parseMenuChoice("Register"), { kind: "register" });
  assert.deepEqual(parseMenuChoice("3"), { kind: "quit" });
  assert.deepEqual(parseMenuChoice("quit"), { kind: "quit" });
  assert.deepEqual(parseMenuChoice("sleep:250"), { kind: "sleep", ms: 250 });
  assert.match(errorOf(parseMenuChoice("4")), /invalid choice "4"/);
  assert.match(errorOf(parseMenuChoice("chat:1:x")), /invalid choice/);
  assert.match(errorOf(parseMenuChoice("sleep:soon")), /usage: sleep:<ms>/);
});

Deno.test("commands without arguments", () => {
  assert.deepEqual(parseCommand("help"), { kind: "help" });
  assert.deepEqual(parseCommand("show"), { kind: "show" });
  assert.deepEqual(parseCommand("info"), { kind: "show" });
  assert.deepEqual(parseCommand("passwd"), { kind: "passwd" });
  assert.deepEqual(parseCommand("loginout"), { kind: "logout" });
  assert.deepEqual(parseCommand("  logout  "), { kind: "logout" });
  assert.deepEqual(parseCommand("quit"), { kind: "quit" });
  assert.deepEqual(parseCommand("EXIT"), { kind: "quit" });
  assert.deepEqual(parseCommand("HELP"), { kind: "help" });
  assert.match(errorOf(parseCommand("help:me")), /takes no arguments/);
});

Deno.test("chat and groupchat split only on the colon after the id", () => {
  assert.deepEqual(parseCommand("chat:2:hello"), { kind: "chat", toid: 2, msg: "hello" });
  assert.deepEqual(parseCommand("chat:2:see: 10:30, ok?"), {
    kind: "chat",
    toid: 2,
    msg: "see: 10:30, ok?",
  });
  assert.deepEqual(parseCommand("chat: 2 :  spaced"), { kind: "chat", toid: 2, msg: "  spaced" });
  assert.deepEqual(parseCommand("groupchat:3:a:b"), { kind: "groupchat", groupid: 3, msg: "a:b" });
});

Deno.test("chat errors: usage, bad ids, empty and too long messages", () => {
  assert.equal(errorOf(parseCommand("chat")), "usage: chat:<friendid>:<message>");
  assert.equal(errorOf(parseCommand("chat:2")), "usage: chat:<friendid>:<message>");
  assert.equal(errorOf(parseCommand("chat:2:")), "the message is empty");
  assert.equal(
    errorOf(parseCommand("chat:bob:hi")),
    'friend id must be a positive integer, not "bob"',
  );
  assert.match(errorOf(parseCommand("chat:0:hi")), /positive integer/);
  assert.match(errorOf(parseCommand("chat:-1:hi")), /positive integer/);
  assert.match(errorOf(parseCommand("chat:1.5:hi")), /positive integer/);
  assert.match(errorOf(parseCommand("chat:99999999999999999999:hi")), /positive integer/);
  assert.match(errorOf(parseCommand("groupchat:x:hi")), /^group id must be/);
  assert.deepEqual(parseCommand(`chat:2:${"😀".repeat(4096)}`), {
    kind: "chat",
    toid: 2,
    msg: "😀".repeat(4096),
  });
  assert.equal(
    errorOf(parseCommand(`chat:2:${"a".repeat(4097)}`)),
    "the message has 4097 characters, at most 4096",
  );
});

Deno.test("addfriend and addgroup take one id", () => {
  assert.deepEqual(parseCommand("addfriend:5"), { kind: "addfriend", friendid: 5 });
  assert.deepEqual(parseCommand("addgroup: 3"), { kind: "addgroup", groupid: 3 });
  assert.equal(errorOf(parseCommand("addfriend")), "usage: addfriend:<friendid>");
  assert.match(errorOf(parseCommand("addfriend:5:extra")), /friend id must be a positive integer/);
  assert.match(errorOf(parseCommand("addgroup:")), /group id must be a positive integer/);
});

Deno.test("removefriend and leavegroup take one id and send REMOVE_FRIEND and LEAVE_GROUP", () => {
  assert.deepEqual(parseCommand("removefriend:5"), { kind: "removefriend", friendid: 5 });
  assert.deepEqual(parseCommand("LeaveGroup: 3"), { kind: "leavegroup", groupid: 3 });
  assert.equal(errorOf(parseCommand("removefriend")), "usage: removefriend:<friendid>");
  assert.equal(errorOf(parseCommand("leavegroup")), "usage: leavegroup:<groupid>");
  assert.match(errorOf(parseCommand("leavegroup:x")), /group id must be a positive integer/);
  assert.deepEqual(requestFrame({ kind: "removefriend", friendid: 5 }), {
    msgid: 19,
    friendid: 5,
  });
  assert.deepEqual(requestFrame({ kind: "leavegroup", groupid: 3 }), { msgid: 20, groupid: 3 });
});

Deno.test("creategroup: the description is optional and may hold colons", () => {
  assert.deepEqual(parseCommand("creategroup:devs:the dev group"), {
    kind: "creategroup",
    groupname: "devs",
    groupdesc: "the dev group",
  });
  assert.deepEqual(parseCommand("creategroup:devs"), {
    kind: "creategroup",
    groupname: "devs",
    groupdesc: "",
  });
  assert.deepEqual(parseCommand("creategroup:devs:at 10:00: standup"), {
    kind: "creategroup",
    groupname: "devs",
    groupdesc: "at 10:00: standup",
  });
  assert.match(errorOf(parseCommand("creategroup::desc")), /group name has 1 to 50/);
  assert.match(errorOf(parseCommand(`creategroup:${"n".repeat(51)}`)), /group name has 1 to 50/);
  assert.match(errorOf(parseCommand(`creategroup:g:${"d".repeat(201)}`)), /at most 200/);
});

Deno.test("sleep and unknown commands", () => {
  assert.deepEqual(parseCommand("sleep:0"), { kind: "sleep", ms: 0 });
  assert.deepEqual(parseCommand("sleep:1500"), { kind: "sleep", ms: 1500 });
  assert.match(errorOf(parseCommand("sleep")), /usage: sleep:<ms>/);
  assert.match(errorOf(parseCommand("sleep:-1")), /usage: sleep:<ms>/);
  assert.match(errorOf(parseCommand("sleep:9999999999")), /usage: sleep:<ms>/);
  assert.equal(errorOf(parseCommand("dance")), 'unknown command "dance" (type help)');
  assert.equal(errorOf(parseCommand("dance:now")), 'unknown command "dance" (type help)');
});

Deno.test("login identity: digits are an id, anything else a name", () => {
  assert.deepEqual(parseLoginIdentity("7"), { id: 7 });
  assert.deepEqual(parseLoginIdentity(" alice "), { name: "alice" });
  assert.deepEqual(parseLoginIdentity("alice 2"), { name: "alice 2" });
  assert.deepEqual(parseLoginIdentity("7a"), { name: "7a" });
  assert.match(errorOf(parseLoginIdentity("0")), /user id must be a positive integer/);
  assert.match(errorOf(parseLoginIdentity("  ")), /enter a user id or name/);
});

Deno.test("new names and passwords are checked against the protocol limits", () => {
  assert.equal(checkNewName(" alice "), "alice");
  assert.equal(checkNewName("é".repeat(50)), "é".repeat(50));
  assert.match(errorOf(checkNewName("")), /1 to 50 characters/);
  assert.match(errorOf(checkNewName("x".repeat(51))), /1 to 50 characters/);
  assert.match(errorOf(checkNewName("123")), /all digits/);
  assert.equal(checkPassword(" secret "), " secret ");
  assert.match(errorOf(checkPassword("")), /1 to 128 characters/);
  assert.match(errorOf(checkPassword("p".repeat(129))), /1 to 128 characters/);
});

Deno.test("each command's request frame uses the protocol's msgid and field names", () => {
  assert.deepEqual(requestFrame({ kind: "chat", toid: 2, msg: "hi" }), {
    msgid: 6,
    toid: 2,
    msg: "hi",
  });
  assert.deepEqual(requestFrame({ kind: "addfriend", friendid: 5 }), { msgid: 7, friendid: 5 });
  assert.deepEqual(requestFrame({ kind: "creategroup", groupname: "g", groupdesc: "" }), {
    msgid: 8,
    groupname: "g",
    groupdesc: "",
  });
  assert.deepEqual(requestFrame({ kind: "addgroup", groupid: 3 }), { msgid: 9, groupid: 3 });
  assert.deepEqual(requestFrame({ kind: "groupchat", groupid: 3, msg: "yo" }), {
    msgid: 10,
    groupid: 3,
    msg: "yo",
  });
  assert.deepEqual(requestFrame({ kind: "logout" }), { msgid: 3 });
});

Deno.test("history and grouphistory: id, optional count and before-mid", () => {
  assert.deepEqual(parseCommand("history:2"), {
    kind: "history",
    count: 20,
    before: null,
    peer: 2,
  });
  assert.deepEqual(parseCommand("grouphistory:3:5:900"), {
    kind: "history",
    count: 5,
    before: 900,
    groupid: 3,
  });
  assert.deepEqual(requestFrame({ kind: "history", count: 5, before: 900, groupid: 3 }), {
    msgid: 14,
    groupid: 3,
    limit: 5,
    before: 900,
  });
  assert.deepEqual(requestFrame({ kind: "history", count: 20, before: null, peer: 2 }), {
    msgid: 14,
    peer: 2,
    limit: 20,
  });
  assert.deepEqual(parseCommand("history:2:101"), { error: "count is at most 100" });
  assert.deepEqual(parseCommand("history:x"), {
    error: 'friend id must be a positive integer, not "x"',
  });
  assert.deepEqual(parseCommand("history:2:5:7:8"), {
    error: "usage: history:<friendid>[:<count>[:<before mid>]]",
  });
});
